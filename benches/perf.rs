//! The measurements behind BENCHMARKS.md: streamed against buffered deploys (peak memory and
//! throughput), overhead per request against a hand-written reqwest loop, stream decoding
//! against a memchr + serde_json floor, and the latency of a live log event on loopback.
//!
//! `cargo bench --bench perf` runs everything; `-- --size-mib 64` deploys a smaller tree and
//! `-- --only deploy` (or overhead, decode, latency) runs one part. Each floor runs in the same
//! process as its figure. Servers listen on 127.0.0.1 only.

use std::{
    convert::Infallible,
    fs,
    io::Read,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use base64::Engine as _;
use bytes::Bytes;
use deno_deploy::{ext::assets::Assets, prelude::*, types, ClientInfo};
use futures::{StreamExt, TryStreamExt};

const MIB: u64 = 1024 * 1024;

struct Args {
    size_mib: u64,
    only: Option<String>,
    child: Option<Vec<String>>,
}

/// The parts `--only` can name, in the order they run.
const PARTS: [&str; 4] = ["deploy", "overhead", "decode", "latency"];

const USAGE: &str =
    "usage: cargo bench --bench perf -- [--size-mib N] [--only deploy|overhead|decode|latency]";

impl Args {
    /// The command line, or a message saying what is wrong with it.
    fn parse() -> Result<Self, String> {
        let mut args = Args {
            size_mib: 512,
            only: None,
            child: None,
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--size-mib" => {
                    let value = it.next().unwrap_or_default();
                    args.size_mib = value.parse().ok().filter(|mib| *mib > 0).ok_or(format!(
                        "--size-mib takes a whole number of MiB above 0, not `{value}`"
                    ))?;
                }
                "--only" => {
                    let part = it.next().unwrap_or_default();
                    if !PARTS.contains(&part.as_str()) {
                        return Err(format!("--only takes one of {PARTS:?}, not `{part}`"));
                    }
                    args.only = Some(part);
                }
                "--child" => args.child = Some(it.by_ref().collect()),
                // cargo passes `--bench` to every benchmark it runs.
                "--bench" => {}
                "--help" | "-h" => return Err(String::new()),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(args)
    }

    fn runs(&self, part: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == part)
    }
}

fn main() {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(problem) if problem.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(problem) => {
            eprintln!("perf: {problem}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Some(child) = &args.child {
        deploy::child(child);
        return;
    }
    machine();
    if args.runs("deploy") {
        deploy::run(args.size_mib);
    }
    if args.runs("overhead") {
        overhead::run();
    }
    if args.runs("decode") {
        decode::run();
    }
    if args.runs("latency") {
        latency::run();
    }
}

fn machine() {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']))
        })
        .unwrap_or("unknown");
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "## machine\nnproc {cpus}\ncpu {model}\nloadavg {}",
        load.trim()
    );
}

/// A runtime for one side of a measurement.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `serve` on its own thread and runtime; returns once it listens.
fn serve_in_background(app: axum::Router) -> String {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let _ = sender.send(format!(
                "http://{}/v2",
                listener.local_addr().expect("addr")
            ));
            axum::serve(listener, app).await.expect("serve");
        })
    });
    receiver.recv().expect("server address")
}

fn client(base_url: &str) -> Client {
    Client::builder()
        .base_url(base_url)
        .token("ddo_bench")
        .request_timeout(Duration::from_secs(600))
        .build()
        .expect("client")
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[at]
}

/// `VmRSS` or `VmHWM` of this process, in bytes.
fn proc_status(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

mod deploy {
    use super::*;

    /// Writes a tree of about `size` bytes: small, medium and large files, text and binary.
    fn write_tree(root: &Path, size: u64) -> (usize, u64) {
        let mut rng = fastrand::Rng::with_seed(6);
        let words = [
            "const",
            "app",
            "\"quoted\"",
            "caf\u{e9}",
            "\u{1f600}",
            "\\path",
            "return",
            "=>",
            "{",
            "}",
            "\t",
            "\n",
            "function",
            "deploy",
            "revision",
        ];
        let (mut files, mut total) = (0, 0u64);
        while total < size {
            let left = size - total;
            // By bytes: about a sixth in small files, a third medium, the rest large.
            let len = match rng.u8(0..6) {
                0 => rng.u64(1024..64 * 1024),
                1 | 2 => rng.u64(256 * 1024..2 * MIB),
                _ => rng.u64(8 * MIB..32 * MIB),
            }
            .min(left);
            let text = rng.bool();
            let mut bytes = Vec::with_capacity(len as usize + 16);
            if text {
                while (bytes.len() as u64) < len {
                    bytes.extend_from_slice(words[rng.usize(..words.len())].as_bytes());
                    bytes.push(b' ');
                }
                // Cut on a character boundary.
                let mut cut = len as usize;
                while std::str::from_utf8(&bytes[..cut]).is_err() {
                    cut -= 1;
                }
                bytes.truncate(cut);
            } else {
                bytes.resize(len as usize, 0);
                rng.fill(&mut bytes);
            }
            let dir = root.join(format!("d{:02}", files % 40));
            fs::create_dir_all(&dir).expect("create dir");
            let ext = if text { "js" } else { "bin" };
            fs::write(dir.join(format!("f{files:05}.{ext}")), &bytes).expect("write file");
            files += 1;
            total += bytes.len() as u64;
        }
        (files, total)
    }

    /// The discard server: reads every deploy body to its end and throws it away.
    fn discard_server(received: Arc<AtomicU64>) -> String {
        use axum::{body::Body, routing::post};
        let app = axum::Router::new().route(
            "/v2/apps/{app}/deploy",
            post(move |body: Body| {
                let received = Arc::clone(&received);
                async move {
                    let mut frames = body.into_data_stream();
                    while let Some(Ok(frame)) = frames.next().await {
                        received.fetch_add(frame.len() as u64, Ordering::Relaxed);
                    }
                    (
                        axum::http::StatusCode::ACCEPTED,
                        [("content-type", "application/json")],
                        r#"{"id":"rev_bench","status":"queued"}"#,
                    )
                }
            }),
        );
        serve_in_background(app)
    }

    pub fn run(size_mib: u64) {
        println!("\n## deploy ({size_mib} MiB tree)");
        let dir = tempfile::Builder::new()
            .prefix("deno-deploy-bench-")
            .tempdir()
            .expect("temp dir");
        let started = Instant::now();
        let (files, bytes) = write_tree(dir.path(), size_mib * MIB);
        println!(
            "tree {files} files, {:.1} MiB, written in {:.1} s",
            bytes as f64 / MIB as f64,
            started.elapsed().as_secs_f64()
        );
        let received = Arc::new(AtomicU64::new(0));
        let url = discard_server(Arc::clone(&received));
        let exe = std::env::current_exe().expect("own path");
        let mut samples = Vec::new();
        for mode in ["streamed", "buffered"] {
            received.store(0, Ordering::Relaxed);
            let output = Command::new(&exe)
                .args(["--child", mode, &url])
                .arg(dir.path())
                .output()
                .expect("run child");
            let text = String::from_utf8_lossy(&output.stdout);
            let mut series = Vec::new();
            for line in text.lines() {
                match line.strip_prefix("sample ") {
                    Some(sample) => {
                        let mut parts = sample.split(' ').map(|v| v.parse::<f64>().unwrap_or(0.0));
                        series.push((parts.next().unwrap_or(0.0), parts.next().unwrap_or(0.0)));
                    }
                    None => println!("{mode} {line}"),
                }
            }
            if !output.status.success() {
                println!("{mode} failed: {}", String::from_utf8_lossy(&output.stderr));
            }
            println!(
                "{mode} server_received_mib {:.1}",
                received.load(Ordering::Relaxed) as f64 / MIB as f64
            );
            samples.push((mode, series));
        }
        let svg = plot(&samples, size_mib);
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/perf");
        fs::create_dir_all(&out).expect("create target/perf");
        fs::write(out.join("deploy-rss.svg"), svg).expect("write plot");
        println!("plot target/perf/deploy-rss.svg");
    }

    /// One deploy in a fresh process, so that its peak RSS is its own.
    pub fn child(args: &[String]) {
        let [mode, url, dir] = args else {
            panic!("--child MODE URL DIR");
        };
        let dir = Path::new(dir);
        let stop = Arc::new(AtomicBool::new(false));
        let series = Arc::new(Mutex::new(Vec::new()));
        let epoch = Instant::now();
        let sampler = {
            let (stop, series) = (Arc::clone(&stop), Arc::clone(&series));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let rss = proc_status("VmRSS");
                    series
                        .lock()
                        .unwrap()
                        .push((epoch.elapsed().as_secs_f64(), rss));
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        let rt = runtime();
        let client = client(url);

        // The floor: read every file and base64-encode it into nothing.
        let listing = Assets::from_dir(dir).entries().expect("listing");
        let paths: Vec<(PathBuf, u64)> = listing
            .entries
            .iter()
            .filter_map(|e| match &e.source {
                deno_deploy::ext::assets::AssetSource::File { path, size } => {
                    Some((path.clone(), *size))
                }
                _ => None,
            })
            .collect();
        let total: u64 = paths.iter().map(|(_, s)| s).sum();
        drop(listing);
        let floor = floor_pass(&paths);
        if mode == "streamed" {
            // The body alone, consumed in memory: what the encoder costs without a socket.
            let listing = Assets::from_dir(dir).entries().expect("listing");
            let body =
                deno_deploy::ext::DeployBody::new(&empty_request(), listing.entries).expect("body");
            let started = Instant::now();
            let bytes = rt.block_on(
                body.into_stream()
                    .try_fold(0u64, |n, chunk| async move { Ok(n + chunk.len() as u64) }),
            );
            let encode = started.elapsed().as_secs_f64();
            println!(
                "encode_only_s {encode:.3} encode_only_mib_s {:.0} body_mib {:.1}",
                total as f64 / MIB as f64 / encode,
                bytes.expect("body") as f64 / MIB as f64
            );
        }
        let baseline = proc_status("VmRSS");
        println!("baseline_rss_mib {:.1}", baseline as f64 / MIB as f64);
        println!(
            "floor_s {floor:.3} floor_mib_s {:.0}",
            total as f64 / MIB as f64 / floor
        );

        let started = Instant::now();
        let start_mark = epoch.elapsed().as_secs_f64();
        let revision = rt.block_on(async {
            match mode.as_str() {
                "streamed" => client
                    .deploy_directory("bench-app", dir)
                    .send()
                    .await
                    .map(|d| d.revision),
                _ => {
                    let collected = Assets::from_dir(dir).collect().expect("collect");
                    let request = types::DeployRequest {
                        assets: collected.assets.into_iter().collect(),
                        ..empty_request()
                    };
                    client
                        .deploy_app()
                        .app("bench-app")
                        .body(request)
                        .send()
                        .await
                        .map(|r| r.into_inner())
                        .map_err(Error::from)
                }
            }
        });
        let elapsed = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let _ = sampler.join();
        let revision = revision.expect("deploy");
        let peak = proc_status("VmHWM");
        println!("revision {}", revision.id);
        println!(
            "deploy_s {elapsed:.3} deploy_mib_s {:.0} throughput_ratio {:.2}",
            total as f64 / MIB as f64 / elapsed,
            floor / elapsed
        );
        println!(
            "peak_rss_mib {:.1} peak_above_baseline_mib {:.1}",
            peak as f64 / MIB as f64,
            peak.saturating_sub(baseline) as f64 / MIB as f64
        );
        for (t, rss) in series
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| *t >= start_mark)
        {
            println!(
                "sample {:.3} {:.1}",
                t - start_mark,
                *rss as f64 / MIB as f64
            );
        }
    }

    fn empty_request() -> types::DeployRequest {
        types::DeployRequest {
            assets: Default::default(),
            config: None,
            env_vars: Vec::new(),
            labels: Default::default(),
            layers: Vec::new(),
            preview: false,
            production: true,
        }
    }

    fn floor_pass(paths: &[(PathBuf, u64)]) -> f64 {
        let engine = &base64::engine::general_purpose::STANDARD;
        let mut buffer = vec![0u8; 3 * 64 * 1024];
        let mut encoded = vec![0u8; 4 * 64 * 1024 + 4];
        let started = Instant::now();
        for (path, _) in paths {
            let mut file = fs::File::open(path).expect("open");
            loop {
                let mut filled = 0;
                while filled < buffer.len() {
                    match file.read(&mut buffer[filled..]).expect("read") {
                        0 => break,
                        n => filled += n,
                    }
                }
                let n = engine
                    .encode_slice(&buffer[..filled], &mut encoded)
                    .expect("encode");
                std::hint::black_box(&encoded[..n]);
                if filled < buffer.len() {
                    break;
                }
            }
        }
        started.elapsed().as_secs_f64()
    }

    /// Resident memory over time, one line per mode, as a plain SVG.
    fn plot(series: &[(&str, Vec<(f64, f64)>)], size_mib: u64) -> String {
        let (w, h, left, bottom) = (720.0, 360.0, 60.0, 40.0);
        let max_t = series
            .iter()
            .flat_map(|(_, s)| s.iter().map(|p| p.0))
            .fold(0.1, f64::max);
        let max_m = series
            .iter()
            .flat_map(|(_, s)| s.iter().map(|p| p.1))
            .fold(1.0, f64::max);
        let x = |t: f64| left + t / max_t * (w - left - 20.0);
        let y = |m: f64| h - bottom - m / max_m * (h - bottom - 30.0);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{left}\" y=\"18\">Resident memory while deploying a {size_mib} MiB tree \
             (MiB over seconds)</text>\n"
        );
        svg += &format!(
            "<line x1=\"{left}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"black\"/>\n\
             <line x1=\"{left}\" y1=\"30\" x2=\"{left}\" y2=\"{0}\" stroke=\"black\"/>\n",
            h - bottom,
            w - 20.0
        );
        for i in 0..=4 {
            let m = max_m * f64::from(i) / 4.0;
            let t = max_t * f64::from(i) / 4.0;
            svg += &format!(
                "<text x=\"4\" y=\"{:.0}\">{m:.0}</text>\n<text x=\"{:.0}\" y=\"{}\">{t:.1} s</text>\n",
                y(m) + 4.0,
                x(t) - 10.0,
                h - bottom + 16.0
            );
        }
        for (i, (mode, points)) in series.iter().enumerate() {
            let color = ["#1f77b4", "#d62728"][i % 2];
            let path: Vec<String> = points
                .iter()
                .map(|(t, m)| format!("{:.1},{:.1}", x(*t), y(*m)))
                .collect();
            let peak = points.iter().map(|p| p.1).fold(0.0, f64::max);
            svg += &format!(
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n\
                 <text x=\"{:.0}\" y=\"{}\" fill=\"{color}\">{mode}: peak {peak:.0} MiB RSS</text>\n",
                path.join(" "),
                w - 260.0,
                50 + 16 * i
            );
        }
        svg + "</svg>\n"
    }
}

mod overhead {
    use super::*;
    use axum::{extract::State, http::header, response::IntoResponse, routing::get};

    const PAGES: usize = 100;
    const PER_PAGE: usize = 100;

    struct Canned {
        app: Bytes,
        pages: Vec<Bytes>,
        base: Mutex<String>,
    }

    fn canned() -> Canned {
        let item = |i: usize| {
            format!(
                r#"{{"id":"{:08x}-0000-4000-8000-000000000000","slug":"app-{i:05}","labels":{{"env":"prod","team":"web"}},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z"}}"#,
                i
            )
        };
        let pages = (0..PAGES)
            .map(|p| {
                let items: Vec<String> = (0..PER_PAGE).map(|i| item(p * PER_PAGE + i)).collect();
                Bytes::from(format!("[{}]", items.join(",")))
            })
            .collect();
        let app = Bytes::from(
            r#"{"id":"00000001-0000-4000-8000-000000000000","slug":"bench-app","labels":{"env":"prod","team":"web"},"layers":[],"env_vars":[],"config":{"framework":"fresh","runtime":{"type":"dynamic","entrypoint":"main.ts"}},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z"}"#,
        );
        Canned {
            app,
            pages,
            base: Mutex::default(),
        }
    }

    fn server() -> (String, Arc<Canned>) {
        let canned = Arc::new(canned());
        let app = axum::Router::new()
            .route(
                "/v2/apps/{app}",
                get(|State(c): State<Arc<Canned>>| async move {
                    ([(header::CONTENT_TYPE, "application/json")], c.app.clone())
                }),
            )
            .route(
                "/v2/apps",
                get(
                    |State(c): State<Arc<Canned>>, uri: axum::http::Uri| async move {
                        let page: usize = uri
                            .query()
                            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("cursor=")))
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        let body = c.pages[page.min(PAGES - 1)].clone();
                        let mut response =
                            ([(header::CONTENT_TYPE, "application/json")], body).into_response();
                        if page + 1 < PAGES {
                            let link = format!(
                                "<{}/apps?limit={PER_PAGE}&cursor={}>; rel=\"next\"",
                                c.base.lock().unwrap(),
                                page + 1
                            );
                            response
                                .headers_mut()
                                .insert(header::LINK, link.parse().unwrap());
                        }
                        response
                    },
                ),
            )
            .with_state(Arc::clone(&canned));
        let url = serve_in_background(app);
        *canned.base.lock().unwrap() = url.clone();
        (url, canned)
    }

    async fn raw_get_app(http: &reqwest::Client, base: &str) -> types::App {
        let response = http
            .get(format!("{base}/apps/bench-app"))
            .header("authorization", "Bearer ddo_bench")
            .header("api-version", Client::api_version())
            .header("accept", "application/json")
            .send()
            .await
            .expect("send");
        assert!(response.status().is_success());
        let bytes = response.bytes().await.expect("body");
        serde_json::from_slice(&bytes).expect("App")
    }

    async fn raw_walk(http: &reqwest::Client, base: &str) -> usize {
        let mut url = format!("{base}/apps?limit={PER_PAGE}");
        let mut count = 0;
        loop {
            let response = http
                .get(&url)
                .header("authorization", "Bearer ddo_bench")
                .header("api-version", Client::api_version())
                .header("accept", "application/json")
                .send()
                .await
                .expect("send");
            let next = response
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    let (target, params) = v.split_once(';')?;
                    params.contains("rel=\"next\"").then(|| {
                        target
                            .trim()
                            .trim_start_matches('<')
                            .trim_end_matches('>')
                            .to_owned()
                    })
                });
            let bytes = response.bytes().await.expect("body");
            let items: Vec<types::AppListItem> = serde_json::from_slice(&bytes).expect("page");
            count += items.len();
            match next {
                Some(next) => url = next,
                None => return count,
            }
        }
    }

    async fn crate_walk(client: &Client) -> usize {
        client
            .list_apps()
            .limit(PER_PAGE as u64)
            .stream()
            .try_fold(0, |n, _| async move { Ok(n + 1) })
            .await
            .expect("walk")
    }

    pub fn run() {
        println!("\n## overhead per request");
        let (base, _canned) = server();
        let rt = runtime();
        let client = client(&base);
        let http = reqwest::Client::new();
        rt.block_on(async {
            // Warm both connection pools and the validator.
            for _ in 0..200 {
                client
                    .get_app()
                    .app("bench-app")
                    .send()
                    .await
                    .expect("get_app");
                raw_get_app(&http, &base).await;
            }
            // Batches alternate, and each crate batch is compared with the raw batch beside it,
            // so that load from other work on the machine hits both sides of a ratio alike.
            let (mut ours, mut raw, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..40 {
                let mut batch = [Vec::new(), Vec::new()];
                for turn in 0..2 {
                    let crate_turn = (round + turn) % 2 == 0;
                    for _ in 0..100 {
                        let started = Instant::now();
                        if crate_turn {
                            let app = client.get_app().app("bench-app").send().await.expect("get");
                            std::hint::black_box(app);
                        } else {
                            std::hint::black_box(raw_get_app(&http, &base).await);
                        }
                        batch[usize::from(!crate_turn)].push(started.elapsed().as_secs_f64() * 1e6);
                    }
                }
                ratios.push(median(&mut batch[0]) / median(&mut batch[1]));
                ours.append(&mut batch[0]);
                raw.append(&mut batch[1]);
            }
            let (c, r) = (median(&mut ours), median(&mut raw));
            println!(
                "get_app median_us crate {c:.1} raw {r:.1} ratio {:.3} paired_ratio {:.3} (n={} each)",
                c / r,
                median(&mut ratios),
                ours.len()
            );

            let (mut ours, mut raw, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            assert_eq!(crate_walk(&client).await, PAGES * PER_PAGE);
            assert_eq!(raw_walk(&http, &base).await, PAGES * PER_PAGE);
            for round in 0..31 {
                let mut pair = [0.0; 2];
                for turn in 0..2 {
                    let crate_turn = (round + turn) % 2 == 0;
                    let started = Instant::now();
                    if crate_turn {
                        std::hint::black_box(crate_walk(&client).await);
                    } else {
                        std::hint::black_box(raw_walk(&http, &base).await);
                    }
                    pair[usize::from(!crate_turn)] = started.elapsed().as_secs_f64() * 1e3;
                }
                ours.push(pair[0]);
                raw.push(pair[1]);
                ratios.push(pair[0] / pair[1]);
            }
            let (c, r) = (median(&mut ours), median(&mut raw));
            println!(
                "walk_10000_apps median_ms crate {c:.1} raw {r:.1} ratio {:.3} paired_ratio {:.3} \
                 (n={} each)",
                c / r,
                median(&mut ratios),
                ours.len()
            );
        });
    }
}

mod decode {
    use super::*;
    use deno_deploy::ext::{ndjson::ndjson_stream, sse::sse_stream};

    const TARGET: usize = 100 * 1000 * 1000;

    fn entries() -> Vec<String> {
        let mut rng = fastrand::Rng::with_seed(7);
        let levels = ["debug", "info", "warn", "error"];
        let mut out = Vec::new();
        let mut size = 0;
        let mut i = 0u64;
        while size < TARGET {
            let line = format!(
                r#"{{"timestamp":"2026-01-01T00:{:02}:{:02}.{:03}Z","level":"{}","message":"GET /api/items/{} 200 in {}ms \"ua\" café","region":"us-east4","revision_id":"rev_{:012}"}}"#,
                (i / 60_000) % 60,
                (i / 1000) % 60,
                i % 1000,
                levels[rng.usize(..4)],
                rng.u32(..100_000),
                rng.u32(..500),
                i % 97
            );
            size += line.len();
            out.push(line);
            i += 1;
        }
        out
    }

    fn chunks(body: &Bytes) -> Vec<Bytes> {
        let mut rng = fastrand::Rng::with_seed(8);
        let mut out = Vec::new();
        let mut at = 0;
        while at < body.len() {
            let len = rng.usize(1..=32 * 1024).min(body.len() - at);
            out.push(body.slice(at..at + len));
            at += len;
        }
        out
    }

    fn floor(body: &[u8], prefix: &[u8]) -> usize {
        let mut count = 0;
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', body) {
            let line = &body[start..end];
            start = end + 1;
            if let Some(json) = line.strip_prefix(prefix) {
                if json.is_empty() {
                    continue;
                }
                let entry: types::RuntimeLogEntry = serde_json::from_slice(json).expect("entry");
                std::hint::black_box(entry);
                count += 1;
            }
        }
        count
    }

    pub fn run() {
        println!("\n## decoding");
        let entries = entries();
        let ndjson = Bytes::from(entries.join("\n") + "\n");
        let mut sse = String::with_capacity(ndjson.len() + entries.len() * 16);
        for (i, entry) in entries.iter().enumerate() {
            sse.push_str(&format!("id: {i}\ndata: {entry}\n\n"));
        }
        let sse = Bytes::from(sse);
        let rt = runtime();
        for (format, body, prefix) in [("ndjson", &ndjson, &b""[..]), ("sse", &sse, &b"data: "[..])]
        {
            let pieces = chunks(body);
            let (mut ours, mut raw) = (Vec::new(), Vec::new());
            for _ in 0..3 {
                let started = Instant::now();
                let n = floor(body, prefix);
                raw.push(started.elapsed().as_secs_f64());
                assert_eq!(n, entries.len());

                let input = futures::stream::iter(pieces.iter().cloned().map(Ok::<_, Infallible>));
                let started = Instant::now();
                let n = rt.block_on(async {
                    if format == "ndjson" {
                        ndjson_stream::<types::RuntimeLogEntry, _, _>(input)
                            .map(|e| std::hint::black_box(e.expect("entry")))
                            .count()
                            .await
                    } else {
                        sse_stream(input)
                            .map(|event| {
                                let event = event.expect("event");
                                let entry: types::RuntimeLogEntry =
                                    serde_json::from_str(&event.data).expect("entry");
                                std::hint::black_box(entry)
                            })
                            .count()
                            .await
                    }
                });
                ours.push(started.elapsed().as_secs_f64());
                assert_eq!(n, entries.len());
            }
            let (c, r) = (median(&mut ours), median(&mut raw));
            let mb = body.len() as f64 / 1e6;
            println!(
                "{format} {mb:.0} MB in {} chunks: crate {:.0} MB/s floor {:.0} MB/s ratio {:.2}",
                pieces.len(),
                mb / c,
                mb / r,
                r / c
            );
        }
    }
}

mod latency {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const EVENTS: usize = 2000;

    type Stamps = Arc<Vec<AtomicU64>>;

    fn stamps() -> Stamps {
        Arc::new((0..EVENTS).map(|_| AtomicU64::new(0)).collect())
    }

    /// Serves one connection: `EVENTS` SSE events a millisecond apart, each stamped (in
    /// nanoseconds since `epoch`) right after its last byte was written.
    async fn serve(listener: &tokio::net::TcpListener, epoch: Instant, stamps: &Stamps) {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if socket.read(&mut byte).await.expect("read") == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let response = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                        transfer-encoding: chunked\r\n\r\n";
        socket.write_all(response.as_bytes()).await.expect("write");
        for (i, stamp) in stamps.iter().enumerate() {
            let event = format!(
                "id: {i}\ndata: {{\"timestamp\":\"2026-01-01T00:00:00Z\",\"level\":\"info\",\
                 \"message\":\"{i}\"}}\n\n"
            );
            let frame = format!("{:x}\r\n{event}\r\n", event.len());
            socket.write_all(frame.as_bytes()).await.expect("write");
            stamp.store(epoch.elapsed().as_nanos() as u64, Ordering::Release);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        socket.write_all(b"0\r\n\r\n").await.ok();
    }

    /// Microseconds from the stamp of event `i` to `seen`; waits for the stamp if the reader
    /// was quicker than the writer's clock call.
    fn latency(stamps: &Stamps, i: usize, seen: u64) -> f64 {
        let mut stamp = stamps[i].load(Ordering::Acquire);
        while stamp == 0 {
            std::hint::spin_loop();
            stamp = stamps[i].load(Ordering::Acquire);
        }
        seen.saturating_sub(stamp) as f64 / 1e3
    }

    /// The floor: a bare socket, lines split with memchr, each `data:` line parsed.
    async fn raw_reader(addr: &str, epoch: Instant, stamps: &Stamps) -> Vec<f64> {
        let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = "GET /v2/apps/bench-app/logs HTTP/1.1\r\nhost: x\r\n\r\n";
        socket.write_all(request.as_bytes()).await.expect("write");
        let (mut buffer, mut latencies) = (Vec::new(), Vec::with_capacity(EVENTS));
        let mut read = vec![0u8; 64 * 1024];
        while latencies.len() < EVENTS {
            let n = socket.read(&mut read).await.expect("read");
            if n == 0 {
                break;
            }
            buffer.extend_from_slice(&read[..n]);
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', &buffer) {
                if let Some(json) = buffer[start..end].strip_prefix(b"data: ") {
                    let entry: types::RuntimeLogEntry =
                        serde_json::from_slice(json).expect("entry");
                    let seen = epoch.elapsed().as_nanos() as u64;
                    let i: usize = entry.message.as_deref().unwrap_or("0").parse().unwrap_or(0);
                    latencies.push(latency(stamps, i, seen));
                }
                start = end + 1;
            }
            buffer.drain(..start);
        }
        latencies
    }

    pub fn run() {
        println!("\n## live log latency (SSE on loopback)");
        let epoch = Instant::now();
        let (ours, raw) = (stamps(), stamps());
        let (sender, receiver) = std::sync::mpsc::channel();
        let (for_ours, for_raw) = (Arc::clone(&ours), Arc::clone(&raw));
        std::thread::spawn(move || {
            runtime().block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let _ = sender.send(listener.local_addr().expect("addr").to_string());
                serve(&listener, epoch, &for_ours).await;
                serve(&listener, epoch, &for_raw).await;
            })
        });
        let addr = receiver.recv().expect("address");
        let rt = runtime();
        let client = client(&format!("http://{addr}/v2"));
        let crate_latencies = rt.block_on(async {
            let start = chrono::Utc::now() - chrono::Duration::hours(1);
            let mut stream = client.follow_logs("bench-app", start).stream();
            let mut latencies = Vec::with_capacity(EVENTS);
            while latencies.len() < EVENTS {
                let Some(Ok(entry)) = stream.next().await else {
                    break;
                };
                let seen = epoch.elapsed().as_nanos() as u64;
                let i: usize = entry.message.as_deref().unwrap_or("0").parse().unwrap_or(0);
                latencies.push(latency(&ours, i, seen));
            }
            latencies
        });
        let raw_latencies = rt.block_on(raw_reader(&addr, epoch, &raw));
        for (who, mut latencies) in [("crate", crate_latencies), ("floor", raw_latencies)] {
            let n = latencies.len();
            let p50 = percentile(&mut latencies, 0.5);
            let p99 = percentile(&mut latencies, 0.99);
            let max = percentile(&mut latencies, 1.0);
            println!("{who} events {n} p50_us {p50:.0} p99_us {p99:.0} max_us {max:.0}");
        }
    }
}
