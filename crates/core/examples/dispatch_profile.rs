//! Which kernels one training step launches on the wgpu device, by name (a profiling aid for
//! the dispatch count `shige bench --device wgpu` prints, not a test).
//! Usage: cargo run --release -p shige-core --example dispatch_profile -- [corpus]
use shige_core::{CleaningConfig, ModelShape, TrainConfig, Trainer, load_corpus};

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "../shared/data/tangshi.txt".into());
    let corpus = load_corpus(&std::fs::read(&path).expect("a corpus"), &CleaningConfig::new()).expect("parses");
    let device = burn::tensor::Device::wgpu_options().init().expect("a wgpu adapter");
    let mut trainer = Trainer::new(&corpus, ModelShape::new(), TrainConfig::new().with_max_seq_len(64), &device).expect("valid");
    pollster::block_on(trainer.train_steps(1)).expect("a step");
    let counter = shige_core::kernels::dispatch::DispatchCount::start_by_kernel();
    pollster::block_on(trainer.train_steps(1)).expect("a step");
    println!("{} dispatches in one step", counter.count());
    for (name, n) in counter.by_kernel() {
        println!("{n:5}  {}", name.chars().take(110).collect::<String>());
    }
}
