//! `shige` with `--cell transformer`: train, write with the meter, evaluate, compact, export
//! under nanoGPT's names, the logits the PyTorch check reads, and bench.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shige(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shige")).args(args).output().expect("runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn tangshi() -> PathBuf {
    std::env::var_os("SHIGE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("tangshi.txt")
}

#[test]
fn a_transformer_trains_writes_evaluates_compacts_exports_and_benches() {
    let dir = std::env::temp_dir().join(format!("shige-cli-transformer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ckpt, small, export) = (dir.join("t.ckpt"), dir.join("t-int8.ckpt"), dir.join("export"));
    let corpus = tangshi();
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let ok = |args: &[&str]| {
        let out = shige(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let said = ok(&[
        "train", "--corpus", &path(&corpus), "--cell", "transformer", "--layers", "2", "--heads", "4", "--embedding", "16",
        "--no-bias", "--dropout", "0.1", "--epochs", "2", "--min-char-freq", "1", "--out", &path(&ckpt), "--export", &path(&export),
    ]);
    assert!(said.contains("validation loss"), "{said}");

    let poem = ok(&["generate", "--model", &path(&ckpt), "--start", "月", "--form", "qijue", "--meter"]);
    let report = shige_core::text::meter::check(poem.trim()).expect("a 七绝");
    assert!(report.passes(), "{poem}");
    let said = ok(&["eval", "--model", &path(&ckpt), "--corpus", &path(&corpus), "--samples", "2"]);
    assert!(said.contains("perplexity"), "{said}");

    ok(&["compact", "--model", &path(&ckpt), "--out", &path(&small), "--weights", "int8"]);
    let again = ok(&["generate", "--model", &path(&small), "--start", "山", "--form", "wujue"]);
    assert_eq!(again.trim().chars().count(), 24, "{again}");

    // nanoGPT's GPTConfig beside the model's own config; no biases asked for, none exported.
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(export.join("config.json")).unwrap()).unwrap();
    assert_eq!((config["n_layer"].as_u64(), config["n_head"].as_u64(), config["n_embd"].as_u64()), (Some(2), Some(4), Some(16)));
    assert_eq!((config["bias"].as_bool(), config["dropout"].as_f64(), config["block_size"].as_u64()), (Some(false), Some(0.1), Some(96)));
    let bytes = std::fs::read(export.join("model.safetensors")).unwrap();
    let names: Vec<String> = safetensors::SafeTensors::deserialize(&bytes).unwrap().names().into_iter().map(String::from).collect();
    assert!(names.contains(&"lm_head.weight".to_string()) && names.contains(&"transformer.h.1.mlp.c_proj.weight".to_string()));
    assert!(!names.iter().any(|n| n.ends_with(".bias")), "{names:?}");
    // `shige export` writes the same files from the checkpoint.
    let again = dir.join("again");
    ok(&["export", "--model", &path(&ckpt), "--out", &path(&again)]);
    assert_eq!(std::fs::read(again.join("model.safetensors")).unwrap(), bytes);

    // The logits the PyTorch check compares: one row per position after BOS, vocabulary wide.
    let out: serde_json::Value = serde_json::from_str(&ok(&["logits", "--model", &path(&ckpt), "--text", "月明"])).unwrap();
    let rows = out["texts"][0]["logits"].as_array().unwrap();
    assert_eq!((rows.len(), rows[0].as_array().unwrap().len() as u64), (3, config["vocab_size"].as_u64().unwrap()));

    let said = ok(&[
        "bench", "--corpus", &path(&corpus), "--cell", "transformer", "--layers", "2", "--embedding", "16", "--steps", "1", "--warmup", "0",
        "--batch-size", "4", "--seq", "16",
    ]);
    assert!(said.contains("transformer n_embd 16 n_head 4 n_layer 2") && said.contains("ms/step"), "{said}");
}
