//! Writes the seed corpora: `seed [DIR]` fills DIR/TARGET/ (default `corpus/`) for every
//! target, from the golden vectors and the reference transcripts (see `capnweb_fuzz::seeds`).

fn main() {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/corpus").to_owned());
    for (target, _) in capnweb_fuzz::TARGETS {
        let dir = std::path::Path::new(&root).join(target);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let seeds = capnweb_fuzz::seeds::seeds(target);
        for (name, content) in &seeds {
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        println!("{}: {} seeds", dir.display(), seeds.len());
    }
}
