//! Where a Transformer training step's time goes on the CPU (a profiling aid for issue 30, not a
//! test): the step's parts at the benchmark shape (batch 32 x seq 64), each timed on its own.
//! Usage: cargo run --release -p shige-core --example transformer_profile -- [layers] [vocab]

use std::time::Instant;

use burn::tensor::{Device, Distribution, Int, Tensor};
use shige_core::kernels::adam::{AdamParams, AdamState, cpu::adam_step};
use shige_core::kernels::output::cpu::output_layer_grads;
use shige_core::model::Probes;
use shige_core::{Cell, ModelShape, PoemModelConfig};

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (layers, vocab) = (args.first().copied().unwrap_or(2), args.get(1).copied().unwrap_or(6011));
    let (b, t, e) = (32, 64, 128);
    let device = Device::flex();
    let shape = ModelShape::new().with_cell(Cell::Transformer).with_embedding(e).with_heads(4).with_layers(layers).with_block_size(t).with_tied(true);
    let config = PoemModelConfig::new(vocab, shape);
    let params = config.init_params(&device, 1);
    let tokens = Tensor::<2, Int>::random([b, t], Distribution::Uniform(4.0, vocab as f64), &device);
    let targets: Vec<i32> = (0..b * t).map(|i| (i * 7919 % (vocab - 4) + 4) as i32).collect();
    let weights = vec![1.0 / (b * t) as f32; b * t];
    let adam = AdamState { m: params.iter().map(|p| p.zeros_like()).collect(), v: params.iter().map(|p| p.zeros_like()).collect(), t: 0 };
    let hyper = AdamParams { learning_rate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, grad_clip: 1.0 };
    let mut parts: Vec<(&str, Vec<f64>)> = ["forward (autodiff)", "output layer (CPU loops)", "backward", "Adam", "whole"].iter().map(|n| (*n, Vec::new())).collect();
    for rep in 0..8 {
        let clock = Instant::now();
        let mut lap = {
            let mut last = Instant::now();
            move || {
                let now = Instant::now();
                let ms = (now - last).as_secs_f64() * 1e3;
                last = now;
                ms
            }
        };
        let tracked: Vec<Tensor<2>> = params.iter().map(|p| p.clone().autodiff().require_grad()).collect();
        let model = config.from_params(tracked.clone());
        let (hidden, _) = model.hidden_states(tokens.clone(), None, &mut Probes::default());
        let forward = lap();
        let weight = params[0].clone().transpose();
        let bias = Tensor::<2>::zeros([1, vocab], &device);
        let out = pollster::block_on(output_layer_grads(hidden.clone().inner(), weight, bias, &targets, &weights)).unwrap();
        let output = lap();
        let grads = (hidden * out.d_hidden).sum().backward();
        let mut g: Vec<Tensor<2>> = tracked.iter().zip(&params).map(|(p, plain)| p.grad(&grads).unwrap_or_else(|| plain.zeros_like())).collect();
        g[0] = g[0].clone() + out.d_weight.transpose();
        let _ = g[0].clone().into_data();
        let backward = lap();
        let _ = pollster::block_on(adam_step(&params, g, &adam, &hyper)).unwrap();
        let adam_ms = lap();
        if rep >= 2 {
            for (i, ms) in [forward, output, backward, adam_ms, clock.elapsed().as_secs_f64() * 1e3].into_iter().enumerate() {
                parts[i].1.push(ms);
            }
        }
    }
    println!("Transformer n_embd {e}, 4 heads, {layers} layers, vocab {vocab}, batch {b} x seq {t} (medians of 6):");
    for (name, times) in parts {
        println!("  {name:28} {:8.1} ms", median(times));
    }
}
