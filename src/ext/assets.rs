//! Collects a directory into deploy assets keyed by `/`-separated paths relative to its root.
//!
//! The walk honours the `.gitignore` and `.ignore` files inside the root plus include and exclude
//! globs, and keeps symlinks as symlink assets. [`AssetsBuilder::entries`] lists without reading
//! file contents (for streaming); [`AssetsBuilder::collect`] reads everything into memory.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf, MAIN_SEPARATOR};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use ignore::WalkBuilder;

use crate::types::{Asset, AssetEncoding, AssetKind};

/// Entry point for collecting a directory into deploy assets; start with [`Assets::from_dir`].
///
/// The rules, all applied below the root only:
///
/// - **Ignore files.** `.gitignore` and `.ignore` files inside the root are honoured at every
///   level, whether or not the root is inside a git repository (`.ignore` wins over
///   `.gitignore`, deeper files win over shallower ones, `!` re-includes). Ignore files in
///   directories above the root, `.git/info/exclude` and the global git excludes are *not* read,
///   so the result depends only on the root's own contents. A malformed ignore file is an error
///   rather than being half-applied, because it may be what keeps secrets out of a deployment.
/// - **Globs.** Include and exclude globs match keys (see below). `*` and `?` do not cross `/`;
///   use `**` for any depth (`**/*.map`). A leading `./` or `/` and a trailing `/` are ignored.
///   A glob that matches a directory matches everything beneath it, so `exclude("node_modules")`
///   prunes that directory and `include("static")` takes all of `static/`. With no include
///   globs everything is included; with some, only matching entries are. Exclude always wins.
/// - **Hidden files** are included (`.well-known/`, `.env.example` and similar are real app
///   files); exclude them with a glob or an ignore file if unwanted. The ignore files themselves
///   are ordinary files and are included too. Any entry named `.git` (the repository directory,
///   or the `.git` file of a worktree or submodule) is always skipped.
/// - **Keys** are relative to the root, joined with `/` on every platform, without a leading
///   `./`. A name that is not valid UTF-8 is an error, unless an ignore file or glob skips it.
/// - **Files** that are valid UTF-8 become `utf-8` assets holding the text unchanged (a byte
///   order mark is kept; an empty file is empty text); anything else becomes `base64` (standard
///   alphabet, padded). Either way the bytes round-trip exactly.
/// - **Symlinks** are never followed during the walk: each becomes a symlink asset whose target
///   is the link's own target text (a link to a directory stays one link; the directory's
///   contents are listed only under their real path). Each link is resolved against the tree the
///   way the operating system would, through any further links, and it is an error if the
///   target is absolute, leaves the root, is dangling, loops (or needs more than 40 hops), or
///   ends at something that is not itself part of the assets (ignored, excluded or empty).
/// - **Other entries** (sockets, FIFOs, devices) are skipped and counted, never read.
/// - **Order** is by key, byte-wise, so two collections of the same tree are identical.
pub enum Assets {}

impl Assets {
    /// Starts describing how to collect the directory `root`; nothing is read until
    /// [`AssetsBuilder::entries`] or [`AssetsBuilder::collect`].
    pub fn from_dir(root: impl Into<PathBuf>) -> AssetsBuilder {
        AssetsBuilder::new(root)
    }
}

/// Describes one collection of a directory: its root, globs and size limit.
#[derive(Clone, Debug)]
pub struct AssetsBuilder {
    root: PathBuf,
    include: Vec<String>,
    exclude: Vec<String>,
    max_file_size: Option<u64>,
}

impl AssetsBuilder {
    /// Starts describing how to collect the directory `root`, the same as [`Assets::from_dir`].
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            include: Vec::new(),
            exclude: Vec::new(),
            max_file_size: None,
        }
    }

    /// Adds an include glob: once any is given, only entries matching one of them (or lying in
    /// a directory that matches) are collected. Globs are checked when collecting.
    pub fn include(mut self, glob: impl Into<String>) -> Self {
        self.include.push(glob.into());
        self
    }

    /// Adds an exclude glob: matching entries, and everything under matching directories, are
    /// skipped, even when an include glob matches them too. Globs are checked when collecting.
    pub fn exclude(mut self, glob: impl Into<String>) -> Self {
        self.exclude.push(glob.into());
        self
    }

    /// Makes any collected file larger than `bytes` an error ([`AssetsError::FileTooLarge`])
    /// instead of silently leaving it out of the deployment. There is no limit by default.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = Some(bytes);
        self
    }

    /// The directory being collected, as given.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Lists what would be collected, in key order, without reading any file's contents: each
    /// file with its path on disk and size, each symlink with its target. Every symlink is
    /// fully checked, so a listing that succeeds only fails later if the tree changes.
    ///
    /// # Errors
    ///
    /// Returns an [`AssetsError`] if the root is missing or not a directory, a glob is invalid,
    /// an ignore file is malformed, the walk hits an I/O error, a name that would be collected
    /// is not UTF-8, a file exceeds [`max_file_size`](Self::max_file_size), or a symlink breaks
    /// one of the rules described on [`Assets`].
    pub fn entries(&self) -> Result<AssetListing, AssetsError> {
        let root = self.root.as_path();
        let meta = fs::metadata(root).map_err(|source| io_error(root, source))?;
        if !meta.is_dir() {
            return Err(AssetsError::NotADirectory {
                path: root.to_path_buf(),
            });
        }
        let include = build_globs(&self.include, "include")?;
        let exclude = build_globs(&self.exclude, "exclude")?.map(Arc::new);
        let pruned = Arc::new(PrunedCounts::default());
        let mut walk = WalkState::default();
        for result in build_walker(root, exclude, Arc::clone(&pruned)) {
            let entry = result.map_err(|err| AssetsError::Walk {
                path: root.to_path_buf(),
                message: err.to_string(),
            })?;
            walk.visit(root, &entry, include.as_ref(), self.max_file_size)?;
        }
        let git = pruned.git.load(Ordering::Relaxed);
        let excluded = pruned.excluded.load(Ordering::Relaxed);
        walk.skipped.git = git;
        walk.skipped.excluded = excluded;
        walk.skipped.ignored = walk
            .children_listed
            .saturating_sub(walk.children_yielded)
            .saturating_sub(git)
            .saturating_sub(excluded);

        let mut entries = walk.entries;
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        LinkChecker::new(root, &entries).check_all(&entries)?;

        let mut summary = AssetsSummary {
            skipped: walk.skipped,
            ..AssetsSummary::default()
        };
        for entry in &entries {
            match &entry.source {
                AssetSource::File { size, .. } => {
                    summary.files += 1;
                    summary.total_bytes = summary.total_bytes.saturating_add(*size);
                }
                AssetSource::Symlink { .. } => summary.symlinks += 1,
            }
        }
        Ok(AssetListing { entries, summary })
    }

    /// Collects the directory into assets keyed by relative path, reading every file; see
    /// [`Assets`] for the rules. Builds on [`entries`](Self::entries).
    ///
    /// # Errors
    ///
    /// Returns every error of [`entries`](Self::entries), plus an [`AssetsError`] if a file
    /// cannot be read or changed size or type between being listed and being read.
    pub fn collect(&self) -> Result<CollectedAssets, AssetsError> {
        let listing = self.entries()?;
        let mut assets = BTreeMap::new();
        for entry in listing.entries {
            let asset = entry.to_asset()?;
            assets.insert(entry.key, asset);
        }
        Ok(CollectedAssets {
            assets,
            summary: listing.summary,
        })
    }
}

/// The result of [`AssetsBuilder::entries`]: what would be collected, without file contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetListing {
    /// The entries, sorted by key.
    pub entries: Vec<AssetEntry>,
    /// Counts and sizes of the entries, and of what was skipped.
    pub summary: AssetsSummary,
}

/// One entry of an [`AssetListing`]: an asset key and where its content comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetEntry {
    /// The asset's path relative to the root, with `/` separators.
    pub key: String,
    /// Where the asset's content comes from.
    pub source: AssetSource,
}

impl AssetEntry {
    /// Builds this entry's [`Asset`], reading the file's contents if it is a file.
    ///
    /// # Errors
    ///
    /// Returns [`AssetsError::Io`] if the file cannot be opened or read, and
    /// [`AssetsError::FileChanged`] if it is no longer a regular file of the listed size.
    pub fn to_asset(&self) -> Result<Asset, AssetsError> {
        match &self.source {
            AssetSource::File { path, size } => read_listed_file(path, *size).map(file_asset),
            AssetSource::Symlink { target } => Ok(symlink_asset(target.clone())),
        }
    }
}

/// Where an [`AssetEntry`]'s content comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssetSource {
    /// A regular file, to be read from disk.
    File {
        /// The file's path on disk: the root joined with the entry's relative path.
        path: PathBuf,
        /// The file's size in bytes when it was listed.
        size: u64,
    },
    /// A symlink, deployed as a link rather than followed.
    Symlink {
        /// The link's own target text, relative to the link's directory, `/`-separated.
        target: String,
    },
}

/// The result of [`AssetsBuilder::collect`].
#[derive(Clone, Debug)]
pub struct CollectedAssets {
    /// The assets, keyed by path relative to the root with `/` separators.
    pub assets: BTreeMap<String, Asset>,
    /// Counts and sizes of the assets, and of what was skipped.
    pub summary: AssetsSummary,
}

/// Counts and sizes of a collection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AssetsSummary {
    /// How many file assets there are.
    pub files: usize,
    /// How many symlink assets there are.
    pub symlinks: usize,
    /// The files' raw sizes added up, before any encoding; symlinks count nothing.
    pub total_bytes: u64,
    /// What was left out, by reason.
    pub skipped: SkippedCounts,
}

/// How many entries were left out of a collection, by reason.
///
/// A skipped directory counts once, however much it contains, because it is not descended into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkippedCounts {
    /// Files and directories matched by a `.gitignore` or `.ignore` file.
    pub ignored: usize,
    /// Files, symlinks and directories matched by an exclude glob.
    pub excluded: usize,
    /// Files and symlinks that matched no include glob (only when include globs are given).
    pub not_included: usize,
    /// Entries named `.git`.
    pub git: usize,
    /// Sockets, FIFOs, devices and other entries that are neither files, directories nor links.
    pub special: usize,
}

impl SkippedCounts {
    /// All skipped entries together.
    pub fn total(&self) -> usize {
        self.ignored
            .saturating_add(self.excluded)
            .saturating_add(self.not_included)
            .saturating_add(self.git)
            .saturating_add(self.special)
    }
}

/// Why a directory could not be collected. Each message names the path and the rule broken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssetsError {
    /// An include or exclude glob does not parse.
    #[error("invalid {rule} glob `{glob}`: {message}")]
    InvalidGlob {
        /// `"include"` or `"exclude"`.
        rule: &'static str,
        /// The glob as given.
        glob: String,
        /// What is wrong with it.
        message: String,
    },
    /// The root exists but is not a directory.
    #[error("asset root `{}` is not a directory", .path.display())]
    NotADirectory {
        /// The root as given.
        path: PathBuf,
    },
    /// A file system operation failed.
    #[error("cannot read `{}`: {source}", .path.display())]
    Io {
        /// The path on disk that could not be read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The directory walk failed.
    #[error("cannot walk asset root `{}`: {message}", .path.display())]
    Walk {
        /// The root as given.
        path: PathBuf,
        /// What went wrong, naming the path concerned.
        message: String,
    },
    /// A `.gitignore` or `.ignore` file could not be read or has an invalid pattern.
    #[error("ignore file in `{}` cannot be applied: {message}", .path.display())]
    IgnoreFile {
        /// The directory holding the ignore file.
        path: PathBuf,
        /// What is wrong, naming the file.
        message: String,
    },
    /// A name that would be collected is not valid UTF-8, so it cannot be an asset key.
    #[error("path `{path}` is not valid UTF-8; asset paths must be UTF-8")]
    NonUtf8Path {
        /// The relative path, with invalid bytes replaced by U+FFFD.
        path: String,
    },
    /// A symlink's target is not valid UTF-8.
    #[error("symlink `{path}` has a target that is not valid UTF-8; link targets must be UTF-8")]
    NonUtf8LinkTarget {
        /// The link's key.
        path: String,
    },
    /// A symlink's target is an absolute path.
    #[error("symlink `{path}` has absolute target `{target}`; link targets must be relative")]
    AbsoluteLink {
        /// The link's key.
        path: String,
        /// The link's target text.
        target: String,
    },
    /// A symlink resolves to somewhere outside the root.
    #[error(
        "symlink `{path}` -> `{target}` resolves outside the asset root; links must stay inside it"
    )]
    LinkEscapesRoot {
        /// The link's key.
        path: String,
        /// The link's target text.
        target: String,
    },
    /// A symlink is part of a loop, or resolving it takes too many hops.
    #[error(
        "symlink `{path}` -> `{target}` is part of a loop or a chain of more than {max_hops} links"
    )]
    LinkLoop {
        /// The link's key.
        path: String,
        /// The link's target text.
        target: String,
        /// The most links followed while resolving one link.
        max_hops: usize,
    },
    /// A symlink, or a link it leads through, points to something that does not exist.
    #[error(
        "symlink `{path}` -> `{target}` is dangling: `{missing}` does not exist or is not a \
         directory; links must resolve"
    )]
    DanglingLink {
        /// The link's key.
        path: String,
        /// The link's target text.
        target: String,
        /// The relative path that does not exist (or is not a directory where one is needed).
        missing: String,
    },
    /// A symlink resolves inside the root, but to something that is not part of the assets.
    #[error(
        "symlink `{path}` -> `{target}` leads to `{resolved}`, which is not part of the assets \
         (ignored, excluded or empty); links must point at collected assets"
    )]
    LinkTargetNotCollected {
        /// The link's key.
        path: String,
        /// The link's target text.
        target: String,
        /// The relative path reached that is not collected.
        resolved: String,
    },
    /// A file is larger than [`AssetsBuilder::max_file_size`] allows.
    #[error("file `{path}` is {size} bytes, over the maximum file size of {limit} bytes")]
    FileTooLarge {
        /// The file's key.
        path: String,
        /// The file's size in bytes.
        size: u64,
        /// The configured limit in bytes.
        limit: u64,
    },
    /// A file changed between being listed and being read.
    #[error(
        "file `{}` changed while being collected (listed as a {size}-byte file); collect again",
        .path.display()
    )]
    FileChanged {
        /// The file's path on disk.
        path: PathBuf,
        /// The size it was listed with.
        size: u64,
    },
}

/// Builds a file asset from raw bytes: `utf-8` text if they are valid UTF-8 (kept unchanged,
/// byte order mark included), otherwise standard padded `base64`.
pub fn file_asset(bytes: Vec<u8>) -> Asset {
    let (content, encoding) = match String::from_utf8(bytes) {
        Ok(text) => (text, AssetEncoding::Utf8),
        Err(err) => (
            base64::engine::general_purpose::STANDARD.encode(err.into_bytes()),
            AssetEncoding::Base64,
        ),
    };
    Asset {
        content: Some(content),
        encoding: Some(encoding),
        kind: AssetKind::File,
        target: None,
    }
}

/// Builds a symlink asset pointing at `target`, a path relative to the link's directory.
pub fn symlink_asset(target: impl Into<String>) -> Asset {
    Asset {
        content: None,
        encoding: None,
        kind: AssetKind::Symlink,
        target: Some(target.into()),
    }
}

/// The most symlinks followed while resolving one link, as Linux's `MAXSYMLINKS`.
const MAX_LINK_HOPS: usize = 40;

/// Entries the walker's filter pruned, counted from inside the filter.
#[derive(Default)]
struct PrunedCounts {
    git: AtomicUsize,
    excluded: AtomicUsize,
}

/// What the walk has found so far.
#[derive(Default)]
struct WalkState {
    entries: Vec<AssetEntry>,
    skipped: SkippedCounts,
    /// Children of every directory the walker descended into, as the file system lists them.
    children_listed: usize,
    /// Entries the walker yielded below the root; the gap to `children_listed` is what the
    /// ignore files and the filter removed.
    children_yielded: usize,
}

impl WalkState {
    fn visit(
        &mut self,
        root: &Path,
        entry: &ignore::DirEntry,
        include: Option<&GlobSet>,
        max_file_size: Option<u64>,
    ) -> Result<(), AssetsError> {
        if let Some(err) = entry.error() {
            return Err(AssetsError::IgnoreFile {
                path: entry.path().to_path_buf(),
                message: err.to_string(),
            });
        }
        if entry.depth() == 0 {
            self.children_listed += count_children(entry.path())?;
            return Ok(());
        }
        let Some(file_type) = entry.file_type() else {
            return Ok(());
        };
        self.children_yielded += 1;
        if file_type.is_dir() {
            self.children_listed += count_children(entry.path())?;
            return Ok(());
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .map_err(|_| AssetsError::Walk {
                path: root.to_path_buf(),
                message: format!("`{}` is not below the root", entry.path().display()),
            })?;
        if let Some(include) = include {
            let matched = rel
                .ancestors()
                .filter(|path| !path.as_os_str().is_empty())
                .any(|path| include.is_match(path));
            if !matched {
                self.skipped.not_included += 1;
                return Ok(());
            }
        }
        if file_type.is_symlink() {
            let key = key_for(root, rel)?;
            let target = read_link_text(entry.path(), &key)?;
            self.entries.push(AssetEntry {
                key,
                source: AssetSource::Symlink { target },
            });
        } else if file_type.is_file() {
            let key = key_for(root, rel)?;
            let size = fs::symlink_metadata(entry.path())
                .map_err(|source| io_error(entry.path(), source))?
                .len();
            if let Some(limit) = max_file_size.filter(|limit| size > *limit) {
                return Err(AssetsError::FileTooLarge {
                    path: key,
                    size,
                    limit,
                });
            }
            self.entries.push(AssetEntry {
                key,
                source: AssetSource::File {
                    path: entry.path().to_path_buf(),
                    size,
                },
            });
        } else {
            self.skipped.special += 1;
        }
        Ok(())
    }
}

/// Checks symlinks against the tree on disk and against the listing.
struct LinkChecker<'a> {
    root: &'a Path,
    files: BTreeSet<&'a str>,
    links: BTreeSet<&'a str>,
    keys: BTreeSet<&'a str>,
}

/// One step of a path being resolved.
enum Step {
    Up,
    Name(String),
}

impl<'a> LinkChecker<'a> {
    fn new(root: &'a Path, entries: &'a [AssetEntry]) -> Self {
        let mut checker = Self {
            root,
            files: BTreeSet::new(),
            links: BTreeSet::new(),
            keys: BTreeSet::new(),
        };
        for entry in entries {
            let key = entry.key.as_str();
            checker.keys.insert(key);
            match entry.source {
                AssetSource::File { .. } => checker.files.insert(key),
                AssetSource::Symlink { .. } => checker.links.insert(key),
            };
        }
        checker
    }

    fn check_all(&self, entries: &[AssetEntry]) -> Result<(), AssetsError> {
        for entry in entries {
            if let AssetSource::Symlink { target } = &entry.source {
                self.check(&entry.key, target)?;
            }
        }
        Ok(())
    }

    /// Resolves the link `key` -> `target` step by step, as the operating system would.
    fn check(&self, key: &str, target: &str) -> Result<(), AssetsError> {
        let path = || key.to_owned();
        let target_text = || target.to_owned();
        let mut pending: VecDeque<Step> =
            steps(target).ok_or_else(|| AssetsError::AbsoluteLink {
                path: path(),
                target: target_text(),
            })?;
        let mut dir: Vec<String> = key.split('/').map(str::to_owned).collect();
        dir.pop();
        let mut at_dir = true;
        let mut hops = 0;
        while let Some(step) = pending.pop_front() {
            if !at_dir {
                return Err(AssetsError::DanglingLink {
                    path: path(),
                    target: target_text(),
                    missing: format!("{}/", dir.join("/")),
                });
            }
            let name = match step {
                Step::Up => {
                    if dir.pop().is_none() {
                        return Err(AssetsError::LinkEscapesRoot {
                            path: path(),
                            target: target_text(),
                        });
                    }
                    continue;
                }
                Step::Name(name) => name,
            };
            dir.push(name);
            let rel = dir.join("/");
            let full = self.root.join(&rel);
            let meta = match fs::symlink_metadata(&full) {
                Ok(meta) => meta,
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    return Err(AssetsError::DanglingLink {
                        path: path(),
                        target: target_text(),
                        missing: rel,
                    });
                }
                Err(source) => return Err(io_error(&full, source)),
            };
            if !meta.file_type().is_symlink() {
                at_dir = meta.is_dir();
                // A directory passed through or reached must exist in the deployment too, which
                // it does only if some asset lies below it. Directories reached by `..` are
                // ancestors of one already checked (or of the link itself), so they always do.
                if at_dir && !self.has_assets_below(&rel) {
                    return Err(AssetsError::LinkTargetNotCollected {
                        path: path(),
                        target: target_text(),
                        resolved: rel,
                    });
                }
                continue;
            }
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Err(AssetsError::LinkLoop {
                    path: path(),
                    target: target_text(),
                    max_hops: MAX_LINK_HOPS,
                });
            }
            if !self.links.contains(rel.as_str()) {
                return Err(AssetsError::LinkTargetNotCollected {
                    path: path(),
                    target: target_text(),
                    resolved: rel,
                });
            }
            let next = read_link_text(&full, &rel)?;
            let next_steps = steps(&next).ok_or_else(|| AssetsError::LinkEscapesRoot {
                path: path(),
                target: target_text(),
            })?;
            dir.pop();
            for step in next_steps.into_iter().rev() {
                pending.push_front(step);
            }
        }
        let resolved = dir.join("/");
        if at_dir || self.files.contains(resolved.as_str()) {
            return Ok(());
        }
        Err(AssetsError::LinkTargetNotCollected {
            path: path(),
            target: target_text(),
            resolved,
        })
    }

    /// Whether any collected key lies below the directory `rel` (non-empty, `/`-separated).
    fn has_assets_below(&self, rel: &str) -> bool {
        let prefix = format!("{rel}/");
        self.keys
            .range(prefix.as_str()..)
            .next()
            .is_some_and(|key| key.starts_with(&prefix))
    }
}

/// Splits a link target into steps, or `None` if it is absolute (or has a drive prefix).
fn steps(target: &str) -> Option<VecDeque<Step>> {
    let mut steps = VecDeque::new();
    for component in Path::new(target).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return None,
            Component::CurDir => {}
            Component::ParentDir => steps.push_back(Step::Up),
            Component::Normal(name) => steps.push_back(Step::Name(name.to_string_lossy().into())),
        }
    }
    Some(steps)
}

fn build_walker(
    root: &Path,
    exclude: Option<Arc<GlobSet>>,
    pruned: Arc<PrunedCounts>,
) -> ignore::Walk {
    let walk_root = root.to_path_buf();
    let mut builder = WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .hidden(false)
        .parents(false)
        .ignore(true)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |entry| {
            if entry.file_name() == ".git" {
                pruned.git.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            let excluded = exclude.as_ref().is_some_and(|exclude| {
                entry
                    .path()
                    .strip_prefix(&walk_root)
                    .is_ok_and(|rel| exclude.is_match(rel))
            });
            if excluded {
                pruned.excluded.fetch_add(1, Ordering::Relaxed);
            }
            !excluded
        });
    builder.build()
}

fn build_globs(globs: &[String], rule: &'static str) -> Result<Option<GlobSet>, AssetsError> {
    if globs.is_empty() {
        return Ok(None);
    }
    let invalid = |glob: &str, message: String| AssetsError::InvalidGlob {
        rule,
        glob: glob.to_owned(),
        message,
    };
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        let pattern = normalize_glob(glob);
        if pattern.is_empty() {
            return Err(invalid(glob, "the glob is empty".to_owned()));
        }
        let compiled = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|err| invalid(glob, err.kind().to_string()))?;
        set.add(compiled);
    }
    set.build()
        .map(Some)
        .map_err(|err| invalid(&globs.join(", "), err.to_string()))
}

/// Drops a leading `./` or `/` and a trailing `/`, which keys never have.
fn normalize_glob(glob: &str) -> &str {
    let mut pattern = glob;
    loop {
        if let Some(rest) = pattern.strip_prefix("./") {
            pattern = rest;
        } else if let Some(rest) = pattern.strip_prefix('/') {
            pattern = rest;
        } else {
            break;
        }
    }
    pattern.trim_end_matches('/')
}

/// Joins `rel`'s components with `/`, refusing names that are not UTF-8.
fn key_for(root: &Path, rel: &Path) -> Result<String, AssetsError> {
    let mut key = String::new();
    for component in rel.components() {
        let Component::Normal(name) = component else {
            return Err(AssetsError::Walk {
                path: root.to_path_buf(),
                message: format!("unexpected path `{}`", rel.display()),
            });
        };
        let Some(name) = name.to_str() else {
            return Err(AssetsError::NonUtf8Path {
                path: lossy_key(rel),
            });
        };
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str(name);
    }
    Ok(key)
}

fn lossy_key(rel: &Path) -> String {
    rel.components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads a link's own target text, with `/` separators.
fn read_link_text(path: &Path, key: &str) -> Result<String, AssetsError> {
    let target = fs::read_link(path).map_err(|source| io_error(path, source))?;
    let text =
        target
            .into_os_string()
            .into_string()
            .map_err(|_| AssetsError::NonUtf8LinkTarget {
                path: key.to_owned(),
            })?;
    if MAIN_SEPARATOR == '/' {
        Ok(text)
    } else {
        Ok(text.replace(MAIN_SEPARATOR, "/"))
    }
}

fn count_children(dir: &Path) -> Result<usize, AssetsError> {
    Ok(fs::read_dir(dir)
        .map_err(|source| io_error(dir, source))?
        .count())
}

/// Reads a file listed with `size` bytes, refusing one that is no longer a regular file of
/// that size, and never holding more than `size + 1` bytes.
fn read_listed_file(path: &Path, size: u64) -> Result<Vec<u8>, AssetsError> {
    let changed = || AssetsError::FileChanged {
        path: path.to_path_buf(),
        size,
    };
    let file = fs::File::open(path).map_err(|source| io_error(path, source))?;
    let meta = file.metadata().map_err(|source| io_error(path, source))?;
    if !meta.is_file() {
        return Err(changed());
    }
    let out_of_memory =
        |message: String| io_error(path, io::Error::new(io::ErrorKind::OutOfMemory, message));
    let capacity = usize::try_from(size).map_err(|err| out_of_memory(err.to_string()))?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(capacity)
        .map_err(|err| out_of_memory(err.to_string()))?;
    file.take(size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| io_error(path, source))?;
    if u64::try_from(bytes.len()).ok() != Some(size) {
        return Err(changed());
    }
    Ok(bytes)
}

/// An I/O failure on `path`.
pub(super) fn io_error(path: &Path, source: io::Error) -> AssetsError {
    AssetsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent directories");
        }
        fs::write(path, bytes).expect("write file");
    }

    #[cfg(unix)]
    fn link(root: &Path, rel: &str, target: &str) {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent directories");
        }
        std::os::unix::fs::symlink(target, path).expect("create symlink");
    }

    fn collect(root: &Path) -> CollectedAssets {
        Assets::from_dir(root).collect().expect("collect assets")
    }

    fn keys(collected: &CollectedAssets) -> Vec<&str> {
        collected.assets.keys().map(String::as_str).collect()
    }

    fn content<'a>(collected: &'a CollectedAssets, key: &str) -> (&'a str, AssetEncoding) {
        let asset = &collected.assets[key];
        assert_eq!(asset.kind, AssetKind::File, "{key} is a file");
        assert!(asset.target.is_none());
        (
            asset.content.as_deref().expect("file content"),
            asset.encoding.clone().expect("file encoding"),
        )
    }

    fn decoded(asset: &Asset) -> Vec<u8> {
        let text = asset.content.as_deref().expect("file content");
        match asset.encoding.as_ref().expect("file encoding") {
            AssetEncoding::Utf8 => text.as_bytes().to_vec(),
            AssetEncoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("valid base64"),
            AssetEncoding::Unknown(other) => panic!("we never write encoding {other:?}"),
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_become_padded_standard_base64() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "logo.png",
            &[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0xFF, 0x00],
        );
        let collected = collect(dir.path());
        assert_eq!(
            content(&collected, "logo.png"),
            ("iVBORw0KGgr/AA==", AssetEncoding::Base64)
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_relative_symlink_serializes_as_its_kind_and_target_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "v2/index.html", b"<h1>v2</h1>");
        link(dir.path(), "current", "v2/index.html");
        let collected = collect(dir.path());
        let json = serde_json::to_string(&collected.assets["current"]).expect("serialize");
        assert_eq!(json, r#"{"kind":"symlink","target":"v2/index.html"}"#);
    }

    #[test]
    fn a_utf8_file_becomes_text_that_serializes_with_its_encoding() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "main.ts", b"console.log(\"hi\");\n");
        let collected = collect(dir.path());
        let json = serde_json::to_string(&collected.assets["main.ts"]).expect("serialize");
        assert_eq!(
            json,
            r#"{"content":"console.log(\"hi\");\n","encoding":"utf-8","kind":"file"}"#
        );
    }

    #[test]
    fn a_byte_order_mark_is_kept_in_the_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "bom.txt", b"\xEF\xBB\xBFhello");
        let collected = collect(dir.path());
        let (text, encoding) = content(&collected, "bom.txt");
        assert_eq!(encoding, AssetEncoding::Utf8);
        assert_eq!(text, "\u{FEFF}hello");
        assert_eq!(text.as_bytes(), b"\xEF\xBB\xBFhello");
    }

    #[test]
    fn an_empty_file_is_empty_utf8_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "empty", b"");
        let collected = collect(dir.path());
        assert_eq!(content(&collected, "empty"), ("", AssetEncoding::Utf8));
        assert_eq!(collected.summary.files, 1);
        assert_eq!(collected.summary.total_bytes, 0);
    }

    #[test]
    fn file_bytes_round_trip_exactly_through_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files: [(&str, &[u8]); 6] = [
            ("text.txt", b"plain\r\nlines\n"),
            ("nul.bin", b"a\0b\0"),
            ("bom.txt", b"\xEF\xBB\xBF"),
            ("half.bin", b"valid then \xC3"),
            ("high.bin", &[0xFF, 0xFE, 0xFD]),
            ("emoji.txt", "snow \u{2603} \u{1F600}".as_bytes()),
        ];
        for (rel, bytes) in files {
            write(dir.path(), rel, bytes);
        }
        let collected = collect(dir.path());
        let json = serde_json::to_string(&collected.assets).expect("serialize");
        let back: BTreeMap<String, Asset> = serde_json::from_str(&json).expect("deserialize");
        for (rel, bytes) in files {
            assert_eq!(decoded(&back[rel]), bytes, "{rel} round-trips");
        }
    }

    #[test]
    fn nested_directories_give_slash_separated_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a/b/c/deep.txt", b"deep");
        write(dir.path(), "a/top.txt", b"top");
        let collected = collect(dir.path());
        assert_eq!(keys(&collected), ["a/b/c/deep.txt", "a/top.txt"]);
    }

    #[test]
    fn gitignore_files_are_honoured_at_every_level_without_a_git_repository() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, ".gitignore", b"*.log\nbuild/\n");
        write(root, "app.log", b"log");
        write(root, "build/out.js", b"out");
        write(root, "main.ts", b"main");
        write(root, "secret.txt", b"kept at the top");
        write(root, "sub/.gitignore", b"secret.txt\n!keep.log\n");
        write(root, "sub/secret.txt", b"hidden");
        write(root, "sub/keep.log", b"re-included");
        write(root, "sub/drop.log", b"still ignored");
        let collected = collect(root);
        assert_eq!(
            keys(&collected),
            [
                ".gitignore",
                "main.ts",
                "secret.txt",
                "sub/.gitignore",
                "sub/keep.log"
            ]
        );
        assert_eq!(collected.summary.skipped.ignored, 4);
    }

    #[test]
    fn dot_ignore_files_are_honoured_and_win_over_gitignore() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, ".gitignore", b"*.bak\n");
        write(root, ".ignore", b"drafts/\n!important.bak\n");
        write(root, "important.bak", b"kept by .ignore");
        write(root, "other.bak", b"ignored by .gitignore");
        write(root, "drafts/post.md", b"draft");
        write(root, "docs/.ignore", b"*.tmp\n");
        write(root, "docs/guide.md", b"guide");
        write(root, "docs/scratch.tmp", b"tmp");
        let collected = collect(root);
        assert_eq!(
            keys(&collected),
            [
                ".gitignore",
                ".ignore",
                "docs/.ignore",
                "docs/guide.md",
                "important.bak"
            ]
        );
    }

    #[test]
    fn ignore_files_above_the_root_are_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), ".gitignore", b"*.txt\n");
        write(dir.path(), ".ignore", b"*.txt\n");
        write(dir.path(), "site/index.txt", b"index");
        let collected = collect(&dir.path().join("site"));
        assert_eq!(keys(&collected), ["index.txt"]);
    }

    #[test]
    fn a_malformed_ignore_file_is_an_error_naming_its_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "sub/.gitignore", b"{unclosed\n");
        write(dir.path(), "sub/a.txt", b"a");
        let err = Assets::from_dir(dir.path())
            .collect()
            .expect_err("malformed");
        assert!(matches!(&err, AssetsError::IgnoreFile { path, .. } if path.ends_with("sub")));
        assert!(err.to_string().contains("{unclosed"), "{err}");
    }

    #[test]
    fn git_entries_are_skipped_but_other_hidden_files_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, ".git/config", b"[core]");
        write(root, ".git/objects/ab/cdef", b"object");
        write(root, "vendor/lib/.git", b"gitdir: ../../.git/modules/lib");
        write(root, "vendor/lib/mod.ts", b"export {};");
        write(root, ".well-known/assetlinks.json", b"[]");
        write(root, ".env.example", b"KEY=");
        let collected = collect(root);
        assert_eq!(
            keys(&collected),
            [
                ".env.example",
                ".well-known/assetlinks.json",
                "vendor/lib/mod.ts"
            ]
        );
        assert_eq!(collected.summary.skipped.git, 2);
        assert_eq!(collected.summary.skipped.ignored, 0);
    }

    #[test]
    fn include_globs_keep_only_matching_entries_and_whole_matching_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "index.html", b"i");
        write(root, "pages/about.html", b"a");
        write(root, "pages/about.css", b"c");
        write(root, "static/img/logo.svg", b"<svg/>");
        write(root, "README.md", b"r");
        let collected = Assets::from_dir(root)
            .include("**/*.html")
            .include("static")
            .collect()
            .expect("collect");
        assert_eq!(
            keys(&collected),
            ["index.html", "pages/about.html", "static/img/logo.svg"]
        );
        assert_eq!(collected.summary.skipped.not_included, 2);
    }

    #[test]
    fn exclude_globs_win_over_include_globs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "app.js", b"a");
        write(root, "app.js.map", b"m");
        write(root, "lib/util.js", b"u");
        write(root, "lib/util.test.js", b"t");
        let collected = Assets::from_dir(root)
            .include("**/*.js")
            .include("**/*.map")
            .exclude("**/*.map")
            .exclude("**/*.test.js")
            .collect()
            .expect("collect");
        assert_eq!(keys(&collected), ["app.js", "lib/util.js"]);
        assert_eq!(collected.summary.skipped.excluded, 2);
    }

    #[test]
    fn an_excluded_directory_is_pruned_and_counted_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "node_modules/a/index.js", b"a");
        write(root, "node_modules/b/index.js", b"b");
        write(root, "main.ts", b"m");
        let collected = Assets::from_dir(root)
            .exclude("node_modules")
            .collect()
            .expect("collect");
        assert_eq!(keys(&collected), ["main.ts"]);
        assert_eq!(collected.summary.skipped.excluded, 1);
        assert_eq!(collected.summary.skipped.ignored, 0);
    }

    #[test]
    fn a_single_star_does_not_cross_directories_but_a_double_star_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "top.map", b"t");
        write(root, "deep/inner.map", b"d");
        let shallow = Assets::from_dir(root)
            .exclude("*.map")
            .collect()
            .expect("collect");
        assert_eq!(keys(&shallow), ["deep/inner.map"]);
        let deep = Assets::from_dir(root)
            .exclude("**/*.map")
            .collect()
            .expect("collect");
        assert!(deep.assets.is_empty());
    }

    #[test]
    fn a_leading_dot_slash_and_a_trailing_slash_in_a_glob_are_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "dist/app.js", b"a");
        write(root, "src/app.ts", b"s");
        let collected = Assets::from_dir(root)
            .include("./dist/")
            .collect()
            .expect("collect");
        assert_eq!(keys(&collected), ["dist/app.js"]);
    }

    #[test]
    fn an_invalid_glob_is_an_error_naming_the_glob_and_its_rule() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = Assets::from_dir(dir.path())
            .include("a[")
            .collect()
            .expect_err("invalid");
        assert!(
            matches!(&err, AssetsError::InvalidGlob { rule: "include", glob, .. } if glob == "a[")
        );
        assert!(
            err.to_string().starts_with("invalid include glob `a[`: "),
            "{err}"
        );
        let err = Assets::from_dir(dir.path())
            .exclude("{x")
            .entries()
            .expect_err("invalid");
        assert!(
            err.to_string().starts_with("invalid exclude glob `{x`: "),
            "{err}"
        );
        let err = Assets::from_dir(dir.path())
            .exclude("./")
            .entries()
            .expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_a_directory_inside_the_root_stays_one_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "v2/index.html", b"v2");
        link(dir.path(), "latest", "v2");
        link(dir.path(), "nested/up", "../v2/");
        let collected = collect(dir.path());
        assert_eq!(keys(&collected), ["latest", "nested/up", "v2/index.html"]);
        assert_eq!(collected.assets["latest"].target.as_deref(), Some("v2"));
        assert_eq!(
            collected.assets["nested/up"].target.as_deref(),
            Some("../v2/")
        );
        assert_eq!(collected.summary.symlinks, 2);
    }

    #[cfg(unix)]
    #[test]
    fn a_chain_of_links_inside_the_root_is_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "v2/index.html", b"v2");
        link(dir.path(), "current", "v2");
        link(dir.path(), "latest", "./current/index.html");
        let collected = collect(dir.path());
        assert_eq!(keys(&collected), ["current", "latest", "v2/index.html"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_that_leaves_the_root_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "outside", b"not an asset");
        let root = dir.path().join("site");
        link(&root, "escape", "../outside");
        let err = Assets::from_dir(&root).collect().expect_err("escapes");
        assert!(matches!(&err, AssetsError::LinkEscapesRoot { path, .. } if path == "escape"));
        assert_eq!(
            err.to_string(),
            "symlink `escape` -> `../outside` resolves outside the asset root; \
             links must stay inside it"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_is_resolved_through_directory_links_like_the_file_system_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("site");
        write(&root, "index.html", b"i");
        link(&root, "sub/up", "..");
        link(&root, "via", "sub/up/index.html");
        assert!(Assets::from_dir(&root).collect().is_ok());
        link(&root, "trick", "sub/up/../..");
        let err = Assets::from_dir(&root).collect().expect_err("escapes");
        assert!(matches!(&err, AssetsError::LinkEscapesRoot { path, .. } if path == "trick"));
    }

    #[cfg(unix)]
    #[test]
    fn an_absolute_link_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("real.txt");
        write(dir.path(), "real.txt", b"r");
        link(dir.path(), "abs", target.to_str().expect("utf-8 temp path"));
        let err = Assets::from_dir(dir.path())
            .collect()
            .expect_err("absolute");
        assert!(matches!(&err, AssetsError::AbsoluteLink { path, .. } if path == "abs"));
        assert!(err.to_string().contains("must be relative"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_loop_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        link(dir.path(), "a", "b");
        link(dir.path(), "b", "a");
        let err = Assets::from_dir(dir.path()).collect().expect_err("loop");
        assert!(matches!(&err, AssetsError::LinkLoop { path, .. } if path == "a"));
        assert_eq!(
            err.to_string(),
            "symlink `a` -> `b` is part of a loop or a chain of more than 40 links"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_link_is_an_error_naming_what_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "file.txt", b"f");
        link(dir.path(), "gone", "missing/index.html");
        let err = Assets::from_dir(dir.path())
            .collect()
            .expect_err("dangling");
        assert!(
            matches!(&err, AssetsError::DanglingLink { path, missing, .. }
                if path == "gone" && missing == "missing")
        );
        fs::remove_file(dir.path().join("gone")).expect("remove link");
        link(dir.path(), "through", "file.txt/..");
        let err = Assets::from_dir(dir.path())
            .collect()
            .expect_err("not a directory");
        assert!(matches!(&err, AssetsError::DanglingLink { path, .. } if path == "through"));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_something_left_out_of_the_assets_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), ".gitignore", b"secret.txt\n");
        write(dir.path(), "secret.txt", b"s");
        link(dir.path(), "leak", "secret.txt");
        let err = Assets::from_dir(dir.path())
            .collect()
            .expect_err("not collected");
        assert!(
            matches!(&err, AssetsError::LinkTargetNotCollected { path, resolved, .. }
                if path == "leak" && resolved == "secret.txt")
        );
        fs::remove_file(dir.path().join("leak")).expect("remove link");
        fs::create_dir(dir.path().join("empty")).expect("create empty directory");
        link(dir.path(), "nothing", "empty");
        let err = Assets::from_dir(dir.path())
            .collect()
            .expect_err("empty directory");
        assert!(
            matches!(&err, AssetsError::LinkTargetNotCollected { path, .. } if path == "nothing")
        );
        fs::remove_file(dir.path().join("nothing")).expect("remove link");
        write(dir.path(), ".ignore", b"build/\n");
        write(dir.path(), "build/out.js", b"o");
        write(dir.path(), "index.html", b"i");
        link(dir.path(), "detour", "build/../index.html");
        let err = Assets::from_dir(dir.path())
            .collect()
            .expect_err("ignored directory");
        assert!(
            matches!(&err, AssetsError::LinkTargetNotCollected { path, resolved, .. }
                if path == "detour" && resolved == "build")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_through_an_excluded_link_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "v2/index.html", b"v2");
        link(dir.path(), "current", "v2");
        link(dir.path(), "latest", "current/index.html");
        let err = Assets::from_dir(dir.path())
            .exclude("current")
            .collect()
            .expect_err("hop not collected");
        assert!(
            matches!(&err, AssetsError::LinkTargetNotCollected { path, resolved, .. }
                if path == "latest" && resolved == "current")
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_name_that_is_not_utf8_is_an_error_naming_the_lossy_path() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;

        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).expect("create sub");
        fs::write(sub.join(OsStr::from_bytes(b"bad\xFFname.txt")), b"x").expect("write");
        let err = Assets::from_dir(dir.path())
            .collect()
            .expect_err("non-UTF-8 name");
        assert!(
            matches!(&err, AssetsError::NonUtf8Path { path } if path == "sub/bad\u{FFFD}name.txt")
        );
        assert_eq!(
            err.to_string(),
            "path `sub/bad\u{FFFD}name.txt` is not valid UTF-8; asset paths must be UTF-8"
        );
        let collected = Assets::from_dir(dir.path())
            .exclude("sub/bad*")
            .collect()
            .expect("excluded name is skipped");
        assert!(collected.assets.is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_link_target_that_is_not_utf8_is_an_error_naming_the_link() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;

        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(OsStr::from_bytes(b"x\xFF"), dir.path().join("odd"))
            .expect("create symlink");
        let err = Assets::from_dir(dir.path())
            .entries()
            .expect_err("non-UTF-8 target");
        assert!(matches!(&err, AssetsError::NonUtf8LinkTarget { path } if path == "odd"));
    }

    #[test]
    fn the_order_is_byte_wise_by_key_and_the_same_every_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        for rel in ["b", "a/b", "a.txt", "B", "_", "a-z/x"] {
            write(dir.path(), rel, rel.as_bytes());
        }
        let first = collect(dir.path());
        assert_eq!(keys(&first), ["B", "_", "a-z/x", "a.txt", "a/b", "b"]);
        let listing = Assets::from_dir(dir.path()).entries().expect("entries");
        let listed: Vec<&str> = listing.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(listed, keys(&first));
        let again = collect(dir.path());
        assert_eq!(
            serde_json::to_string(&first.assets).expect("serialize"),
            serde_json::to_string(&again.assets).expect("serialize")
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_summary_counts_files_links_raw_bytes_and_skips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, ".gitignore", b"*.log\ntmp/\n");
        write(root, "a.log", b"ignored");
        write(root, "tmp/x", b"ignored dir");
        write(root, ".git/HEAD", b"ref");
        write(root, "index.html", b"0123456789");
        write(root, "img.bin", &[0xFF; 5]);
        write(root, "skip.md", b"excluded");
        write(root, "notes/n.txt", b"not included");
        link(root, "home", "index.html");
        let socket = root.join("app.sock");
        drop(std::os::unix::net::UnixListener::bind(&socket).expect("bind socket file"));
        let collected = Assets::from_dir(root)
            .include("*.*")
            .include("home")
            .exclude("skip.md")
            .collect()
            .expect("collect");
        assert_eq!(
            keys(&collected),
            [".gitignore", "home", "img.bin", "index.html"]
        );
        let expected = AssetsSummary {
            files: 3,
            symlinks: 1,
            total_bytes: 11 + 5 + 10,
            skipped: SkippedCounts {
                ignored: 2,
                excluded: 1,
                not_included: 1,
                git: 1,
                special: 1,
            },
        };
        assert_eq!(collected.summary, expected);
        assert_eq!(collected.summary.skipped.total(), 6);
    }

    #[test]
    fn a_file_over_the_size_limit_is_an_error_and_one_at_the_limit_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "four", b"1234");
        assert!(Assets::from_dir(dir.path())
            .max_file_size(4)
            .collect()
            .is_ok());
        write(dir.path(), "big/five", b"12345");
        let err = Assets::from_dir(dir.path())
            .max_file_size(4)
            .collect()
            .expect_err("too large");
        assert_eq!(
            err.to_string(),
            "file `big/five` is 5 bytes, over the maximum file size of 4 bytes"
        );
    }

    #[test]
    fn entries_list_paths_and_sizes_and_contents_are_read_only_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a/b.txt", b"abc");
        let listing = Assets::from_dir(dir.path()).entries().expect("entries");
        let path = dir.path().join("a/b.txt");
        assert_eq!(
            listing.entries,
            [AssetEntry {
                key: "a/b.txt".to_owned(),
                source: AssetSource::File {
                    path: path.clone(),
                    size: 3,
                },
            }]
        );
        assert_eq!(listing.summary.total_bytes, 3);
        fs::write(&path, b"xyz").expect("rewrite same size");
        let asset = listing.entries[0].to_asset().expect("read");
        assert_eq!(asset.content.as_deref(), Some("xyz"));
        fs::write(&path, b"longer").expect("rewrite longer");
        let err = listing.entries[0].to_asset().expect_err("changed");
        assert!(matches!(err, AssetsError::FileChanged { size: 3, .. }));
        fs::remove_file(&path).expect("remove");
        let err = listing.entries[0].to_asset().expect_err("gone");
        assert!(matches!(err, AssetsError::Io { .. }));
    }

    #[test]
    fn a_missing_root_or_a_root_that_is_a_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing");
        let err = Assets::from_dir(&missing).collect().expect_err("missing");
        assert!(matches!(&err, AssetsError::Io { path, .. } if *path == missing));
        write(dir.path(), "file", b"f");
        let err = Assets::from_dir(dir.path().join("file"))
            .collect()
            .expect_err("file");
        assert!(matches!(err, AssetsError::NotADirectory { .. }));
        assert!(
            err.to_string().ends_with("file` is not a directory"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_root_that_is_a_symlink_to_a_directory_is_walked() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "real/index.html", b"i");
        link(dir.path(), "site", "real");
        let collected = collect(&dir.path().join("site"));
        assert_eq!(keys(&collected), ["index.html"]);
    }

    #[test]
    fn the_asset_helpers_build_file_and_symlink_assets() {
        let text = file_asset(b"hi".to_vec());
        assert_eq!(text.encoding, Some(AssetEncoding::Utf8));
        assert_eq!(text.content.as_deref(), Some("hi"));
        let binary = file_asset(vec![0xFF]);
        assert_eq!(binary.encoding, Some(AssetEncoding::Base64));
        assert_eq!(binary.content.as_deref(), Some("/w=="));
        let link = symlink_asset("a/b");
        assert_eq!(link.kind, AssetKind::Symlink);
        assert_eq!(link.target.as_deref(), Some("a/b"));
        assert!(link.content.is_none() && link.encoding.is_none());
    }
}
