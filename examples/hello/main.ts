// A small Deno Deploy app: a greeting page, a JSON endpoint and a static logo.
const logo = await Deno.readFile(new URL("./logo.png", import.meta.url));

Deno.serve((request: Request): Response => {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/":
      return new Response("Hello from deno-deploy!\n", {
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    case "/api/time":
      return Response.json({ now: new Date().toISOString() });
    case "/logo.png":
      return new Response(logo, { headers: { "content-type": "image/png" } });
    default:
      return new Response("Not found\n", { status: 404 });
  }
});
