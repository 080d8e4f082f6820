//! PyTorch-named export for every cell: the names and shapes `nn.Embedding`, `nn.RNN` /
//! `nn.LSTM` / `nn.GRU` and `nn.Linear` expect, weights transposed to `[gates * H, I]`, and a
//! tied output layer folded into `fc.weight = embedding · projᵀ`.
mod common;

use common::{block_on, tangshi};
use shige_core::{Cell, Checkpoint, TrainConfig, Trainer};

fn export(cell: Cell, tied: bool) -> (Checkpoint, Vec<u8>) {
    let corpus = tangshi();
    let shape = common::tiny_shape().with_cell(cell).with_layers(2).with_tied(tied);
    let trainer = Trainer::new(&corpus, shape, TrainConfig::new().with_min_char_freq(1), &common::cpu()).unwrap();
    let ckpt = block_on(Checkpoint::capture(&trainer)).unwrap();
    let bytes = ckpt.to_pytorch_safetensors();
    (ckpt, bytes)
}

fn value(file: &safetensors::SafeTensors, name: &str, index: usize) -> f32 {
    let data = file.tensor(name).unwrap().data().to_vec();
    f32::from_le_bytes(data[index * 4..index * 4 + 4].try_into().unwrap())
}

#[test]
fn each_cell_exports_under_its_pytorch_names() {
    for cell in Cell::RECURRENT {
        let (ckpt, bytes) = export(cell, false);
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let (v, e, h, g) = (ckpt.model.vocab_size, 24, 48, cell.gates());
        let name = cell.name();
        let mut got: Vec<(String, Vec<usize>)> = file.tensors().into_iter().map(|(n, t)| (n, t.shape().to_vec())).collect();
        got.sort();
        let mut want = vec![
            ("embedding.weight".to_string(), vec![v, e]),
            ("fc.bias".into(), vec![v]),
            ("fc.weight".into(), vec![v, h]),
        ];
        for l in 0..2 {
            let d_in = if l == 0 { e } else { h };
            want.push((format!("{name}.weight_ih_l{l}"), vec![g * h, d_in]));
            want.push((format!("{name}.weight_hh_l{l}"), vec![g * h, h]));
            want.push((format!("{name}.bias_ih_l{l}"), vec![g * h]));
            want.push((format!("{name}.bias_hh_l{l}"), vec![g * h]));
        }
        want.sort();
        assert_eq!(got, want, "{cell:?}");
        // Transposed: PyTorch's [gates*H, I] row r, column c is our [I, gates*H] at (c, r).
        let ours = &ckpt.params[1];
        assert_eq!(value(&file, &format!("{name}.weight_ih_l0"), 5 * e + 3), ours[3 * g * h + 5], "{cell:?}");
        assert_eq!(value(&file, "fc.weight", 7 * h + 3), ckpt.params[9][3 * v + 7]);
    }
}

#[test]
fn a_tied_output_layer_exports_as_embedding_times_the_projection() {
    let (ckpt, bytes) = export(Cell::Gru, true);
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (v, e, h) = (ckpt.model.vocab_size, 24, 48);
    assert_eq!(file.tensor("fc.weight").unwrap().shape(), &[v, h]);
    assert!(file.tensor("proj.weight").is_err(), "folded into fc.weight");
    let (embedding, proj) = (&ckpt.params[0], &ckpt.params[9]); // proj is [H, E]
    for (row, col) in [(0, 0), (17, 40), (v - 1, h - 1)] {
        let want: f32 = (0..e).map(|k| embedding[row * e + k] * proj[col * e + k]).sum();
        let got = value(&file, "fc.weight", row * h + col);
        assert!((got - want).abs() < 1e-5, "({row}, {col}): {got} vs {want}");
    }
}
