//! Where a training step's time goes on one device, op by op (a profiling aid for issue 4,
//! not a test): times the pieces of the model's forward and backward at the benchmark shape.
//! Usage: cargo run --release -p shige-core --example op_profile -- [cpu|wgpu] [vocab]

use std::time::Instant;

use burn::tensor::activation::{log_softmax, sigmoid, tanh};
use burn::tensor::{Device, Distribution, Int, Tensor};

/// Median wall time of `f`, each run including reading its whole result back.
fn time(label: &str, reps: usize, f: impl Fn() -> Tensor<2>) {
    let run = || {
        let t = Instant::now();
        // `to_vec` forces the bytes: on wgpu `into_data` alone may return before the device is done.
        let _ = f().into_data().try_to_vec::<f32>().expect("f32 values");
        t.elapsed().as_secs_f64() * 1e3
    };
    run(); // compiles the kernels
    let mut times: Vec<f64> = (0..reps).map(|_| run()).collect();
    times.sort_by(f64::total_cmp);
    println!("{label:48} {:9.2} ms", times[reps / 2]);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let device = match args.get(1).map(String::as_str) {
        Some("wgpu") => Device::wgpu_options().init().expect("a wgpu adapter"),
        _ => Device::flex(),
    };
    let vocab: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(6011);
    let (n, e, h) = (2048, 128, 256);
    let rnd = |shape: [usize; 2]| Tensor::<2>::random(shape, Distribution::Uniform(-0.1, 0.1), &device);
    let (x, w_ih, hid, w_hh) = (rnd([n, e]), rnd([e, 3 * h]), rnd([n, h]), rnd([h, 3 * h]));
    let (w_fc, logits) = (rnd([h, vocab]), rnd([n, vocab]));
    let (h_b, gh) = (rnd([32, h]), rnd([32, 3 * h]));
    let targets = Tensor::<2, Int>::zeros([n, 1], &device);
    time("input projection [2048,128]x[128,768]", 5, || x.clone().matmul(w_ih.clone()));
    time("hidden step [32,256]x[256,768]", 20, || h_b.clone().matmul(w_hh.clone()));
    time("gate math of one step (sigmoid, tanh, mix)", 20, || {
        let rz = sigmoid(gh.clone().narrow(1, 0, 2 * h) + gh.clone().narrow(1, 0, 2 * h));
        let n_ = tanh(gh.clone().narrow(1, 2 * h, h) + rz.clone().narrow(1, 0, h) * gh.clone().narrow(1, 2 * h, h));
        n_.clone() + rz.narrow(1, h, h) * (h_b.clone() - n_)
    });
    time("dense forward [2048,256]x[256,V]", 1, || hid.clone().matmul(w_fc.clone()));
    time("dense dW [256,2048]x[2048,V]", 1, || hid.clone().transpose().matmul(logits.clone()));
    time("dense dX [2048,V]x[V,256]", 1, || logits.clone().matmul(w_fc.clone().transpose()));
    time("log_softmax [2048,V]", 3, || log_softmax(logits.clone(), 1));
    time("gather targets", 3, || logits.clone().gather(1, targets.clone()));
    time("elementwise add [2048,V]", 3, || logits.clone() + logits.clone());
}
