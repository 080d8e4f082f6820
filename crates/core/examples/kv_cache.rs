//! Writing with a Transformer: the KV cache (`PoemModel::forward` with the state, what `generate`
//! does) against reading the whole context again at every character (nanoGPT's `generate`), at
//! poem lengths. A measurement for issue 30, not a test.
//! Usage: cargo run --release -p shige-core --example kv_cache -- [chars] [vocab] [layers]

use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use shige_core::readback::read_values;
use shige_core::{Cell, ModelShape, PoemModelConfig};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (chars, vocab, layers) = (args.first().copied().unwrap_or(80), args.get(1).copied().unwrap_or(6011), args.get(2).copied().unwrap_or(2));
    let device = Device::flex();
    let shape = ModelShape::new().with_cell(Cell::Transformer).with_embedding(128).with_heads(4).with_layers(layers).with_block_size(96);
    let model = PoemModelConfig::new(vocab, shape).init(&device, 1);
    let token = |t: usize| Tensor::<2, Int>::from_data(TensorData::new(vec![(t % vocab) as i32], [1, 1]), &device);
    let next = |logits: &[f32]| logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i).max(4);

    // Each way writes `chars` characters after BOS, reading the logits back at every step as
    // `generate` does (the sampler runs on the host).
    let cached = || {
        let (mut state, mut t) = (None, 2);
        for _ in 0..=chars {
            let (logits, s) = model.forward(token(t), state);
            state = Some(s);
            t = next(&pollster::block_on(read_values(logits)).unwrap());
        }
    };
    let recomputed = || {
        let mut context = vec![2i32];
        for _ in 0..=chars {
            let n = context.len();
            let input = Tensor::<2, Int>::from_data(TensorData::new(context.clone(), [1, n]), &device);
            // Only the last position goes through the output layer, as nanoGPT's generate does.
            let (hidden, _) = model.hidden_states(input, None, &mut Default::default());
            let last = hidden.narrow(0, n - 1, 1).matmul(model.output_weight().1);
            context.push(next(&pollster::block_on(read_values(last)).unwrap()) as i32);
        }
    };
    for (name, f) in [("KV cache", &cached as &dyn Fn()), ("recompute", &recomputed as &dyn Fn())] {
        f(); // warm-up
        let mut times: Vec<f64> = (0..7)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "{name:10} {chars} characters, n_embd 128, 4 heads, {layers} layers, vocab {vocab}: median {:.1} ms a poem ({:.2} ms a character; min {:.1}, max {:.1})",
            times[3],
            times[3] / (chars + 1) as f64,
            times[0],
            times[6]
        );
    }
}
