//! Embeds every `sql/procedures/*.sql` file, in name order, so `piw-initdb` needs no files at run time.
use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new("sql/procedures");
    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rerun-if-changed=migrations");
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("sql/procedures exists")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    names.sort();
    let root = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut out = String::from("/// Procedure sources: (file name, SQL), in name order.\npub const PROCEDURES: &[(&str, &str)] = &[\n");
    for name in &names {
        println!("cargo:rerun-if-changed=sql/procedures/{name}");
        out.push_str(&format!("    ({name:?}, include_str!(\"{root}/sql/procedures/{name}\")),\n"));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("procedures.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}
