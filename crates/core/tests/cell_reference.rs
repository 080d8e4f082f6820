//! Each cell against a plain scalar implementation of PyTorch's formulas, 2 layers deep:
//!
//! `nn.RNN` (tanh):  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
//! `nn.LSTM`:        i, f, g, o = σ, σ, tanh, σ of (W_i* x + b_i* + W_h* h + b_h*)
//!                   c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')
//! `nn.GRU`:         r = σ(W_ir x + b_ir + W_hr h + b_hr)
//!                   z = σ(W_iz x + b_iz + W_hz h + b_hz)
//!                   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//!                   h' = (1 − z) ⊙ n + z ⊙ h
//! and the output layer, untied (`fc`) and tied (`proj` then the transposed embedding).
mod common;

use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng, rngs::StdRng};
use shige_core::{Cell, ModelShape, PoemModelConfig};

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// One layer over a sequence. `w_ih` is `[I, gates*H]` row-major (this crate's layout).
fn reference_layer(cell: Cell, xs: &[Vec<f32>], p: &[Vec<f32>], h_size: usize) -> Vec<Vec<f32>> {
    let (w_ih, w_hh, b_ih, b_hh) = (&p[0], &p[1], &p[2], &p[3]);
    let g = cell.gates();
    // Gate `gate`, unit `j` of W v + b.
    let proj = |v: &[f32], w: &[f32], b: &[f32], gate: usize, j: usize| {
        b[gate * h_size + j] + (0..v.len()).map(|k| v[k] * w[k * g * h_size + gate * h_size + j]).sum::<f32>()
    };
    let (mut h, mut c) = (vec![0.0f32; h_size], vec![0.0f32; h_size]);
    let mut out = Vec::new();
    for x in xs {
        let both = |gate: usize, j: usize| proj(x, w_ih, b_ih, gate, j) + proj(&h, w_hh, b_hh, gate, j);
        let mut next = vec![0.0; h_size];
        for j in 0..h_size {
            next[j] = match cell {
                Cell::Rnn => both(0, j).tanh(),
                Cell::Lstm => {
                    let (i, f, gg, o) = (sigmoid(both(0, j)), sigmoid(both(1, j)), both(2, j).tanh(), sigmoid(both(3, j)));
                    c[j] = f * c[j] + i * gg;
                    o * c[j].tanh()
                }
                Cell::Gru => {
                    let r = sigmoid(both(0, j));
                    let z = sigmoid(both(1, j));
                    let n = (proj(x, w_ih, b_ih, 2, j) + r * proj(&h, w_hh, b_hh, 2, j)).tanh();
                    (1.0 - z) * n + z * h[j]
                }
                Cell::Transformer => unreachable!("not recurrent: tests/transformer.rs"),
            };
        }
        h = next;
        out.push(h.clone());
    }
    out
}

#[test]
fn every_cell_matches_its_scalar_reference_on_cpu() {
    for cell in Cell::RECURRENT {
        for tied in [false, true] {
            check_against_reference(&common::cpu(), cell, tied);
        }
    }
}

#[test]
fn every_cell_matches_its_scalar_reference_on_wgpu() {
    if let Some(device) = common::wgpu() {
        for cell in Cell::RECURRENT {
            check_against_reference(&device, cell, cell == Cell::Lstm);
        }
    }
}

fn check_against_reference(device: &burn::tensor::Device, cell: Cell, tied: bool) {
    let (e, h, v, layers) = (6, 5, 11, 2);
    let shape = ModelShape::new().with_embedding(e).with_hidden(h).with_layers(layers).with_cell(cell).with_tied(tied);
    let config = PoemModelConfig::new(v, shape);
    let mut rng = StdRng::seed_from_u64(3);
    let params: Vec<Vec<f32>> = config
        .param_shapes()
        .iter()
        .map(|(_, [r, c])| (0..r * c).map(|_| rng.random_range(-0.8f32..0.8)).collect())
        .collect();
    let tensors = config
        .param_shapes()
        .iter()
        .zip(&params)
        .map(|((_, shape), v)| Tensor::from_data(TensorData::new(v.clone(), *shape), device))
        .collect();
    let model = config.from_params(tensors);

    let (batch, t_len) = (3, 7);
    let tokens: Vec<i32> = (0..batch * t_len).map(|_| rng.random_range(0..v as i32)).collect();
    let input = Tensor::<2, Int>::from_data(TensorData::new(tokens.clone(), [batch, t_len]), device);
    let (logits, last) = model.forward(input, None);
    let logits = logits.into_data().try_to_vec::<f32>().unwrap();
    let last_h = last.h.into_data().try_to_vec::<f32>().unwrap();

    let mut max_diff = 0.0f32;
    for b in 0..batch {
        let mut xs: Vec<Vec<f32>> = (0..t_len)
            .map(|t| {
                let id = tokens[b * t_len + t] as usize;
                params[0][id * e..(id + 1) * e].to_vec()
            })
            .collect();
        for l in 0..layers {
            xs = reference_layer(cell, &xs, &params[1 + 4 * l..5 + 4 * l], h);
            for j in 0..h {
                max_diff = max_diff.max((last_h[(l * batch + b) * h + j] - xs[t_len - 1][j]).abs());
            }
        }
        let (out_w, fc_b) = (&params[1 + 4 * layers], &params[2 + 4 * layers]);
        for t in 0..t_len {
            // Tied: logits = (h · proj) · embeddingᵀ; untied: h · fc.
            let features: Vec<f32> = if tied {
                (0..e).map(|k| (0..h).map(|j| xs[t][j] * out_w[j * e + k]).sum()).collect()
            } else {
                xs[t].clone()
            };
            for o in 0..v {
                let weight = |k: usize| if tied { params[0][o * e + k] } else { out_w[k * v + o] };
                let want = fc_b[o] + (0..features.len()).map(|k| features[k] * weight(k)).sum::<f32>();
                max_diff = max_diff.max((logits[(b * t_len + t) * v + o] - want).abs());
            }
        }
    }
    assert!(max_diff < 1e-4, "{cell:?} tied={tied}: max abs diff {max_diff}");
}
