//! piw-listener: the daemon that carries out queued file deletions and page rebuilds.
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::listener;

/// mimalloc rather than glibc's malloc: a streamed rebuild allocates each package's rows on a
/// runtime thread and frees them on a writer thread, where glibc's arenas spent a tenth of the
/// listener's time (`perf`). Callgrind, user-space instructions per small rebuild: 724M → 611M.
/// Built without transparent huge pages (`no_thp`): with them its arenas were committed in 2 MB
/// pages, and the listener's peak RSS in a small rebuild went from 10 MB to 38 MB (14 MB without).
/// Here rather than in the library: an allocator is the binary's choice, and the tools and the
/// tests keep the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    listener::run(listener::Args::parse())
}
