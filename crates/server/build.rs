//! Link settings of the `user-service` binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        // The binary is position independent, and its ~51,000 relative relocations were a 1.2 MiB
        // `.rela.dyn` table that the loader reads whole at every start: resident, for nothing, as
        // long as the process lives. Packed (DT_RELR, glibc 2.36+) they take a few KiB. An older
        // glibc refuses to start the binary, by name (GLIBC_ABI_DT_RELR), rather than misloading it.
        // (docs/BENCHMARKS.md, idle RSS; docs/DECISIONS.md)
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
