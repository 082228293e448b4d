//! Vendors the browser libraries the pages use (Leaflet, pinned in `web-vendor/package-lock.json`)
//! from npm at build time, through `scripts/vendor-web.sh`, and embeds them: the binary serves
//! them itself and no page loads anything from outside. Without npm (or offline) the build goes
//! on without them and the maps stay server-drawn SVG; a warning says so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let root = manifest.join("../..");
    println!("cargo:rerun-if-changed=web-vendor/package-lock.json");
    println!("cargo:rerun-if-changed=web-vendor/package.json");
    println!("cargo:rerun-if-env-changed=CIVICGRID_WEB_VENDOR");
    let dist = env::var("CIVICGRID_WEB_VENDOR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/external/web/dist"));
    if !dist.join("leaflet.js").is_file() && env::var_os("CIVICGRID_WEB_VENDOR").is_none() {
        let script = root.join("scripts/vendor-web.sh");
        let ok = Command::new("bash")
            .arg(&script)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            println!(
                "cargo:warning=could not vendor Leaflet with {} (is npm installed and the registry reachable?): maps stay SVG",
                script.display()
            );
        }
    }
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    let mut out = String::from(
        "/// (path under /static/vendor/, content type, bytes)\npub static FILES: &[(&str, &str, &[u8])] = &[\n",
    );
    for (name, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let kind = match Path::new(name).extension().and_then(|e| e.to_str()) {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("png") => "image/png",
            Some("svg") => "image/svg+xml",
            _ => "text/plain; charset=utf-8",
        };
        out.push_str(&format!(
            "    ({name:?}, {kind:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let target = PathBuf::from(env::var("OUT_DIR").expect("out dir")).join("vendored.rs");
    fs::write(target, out).expect("write vendored.rs");
}

/// Every file under `dir`, as (path relative to `base` with `/`, absolute path).
fn collect(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(base, &path, out);
        } else if let Ok(rel) = path.strip_prefix(base) {
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if let Ok(abs) = path.canonicalize() {
                out.push((name, abs));
            }
        }
    }
}
