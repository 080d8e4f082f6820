//! The `shige` binary end to end: train, generate, eval, and its error messages.

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

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shige-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn train_generate_eval_and_export() {
    let ckpt = scratch("tiny.ckpt");
    let export = scratch("export");
    let corpus = tangshi();
    let out = shige(&[
        "train", "--corpus", corpus.to_str().unwrap(), "--embedding", "16", "--hidden", "32",
        "--epochs", "2", "--out", ckpt.to_str().unwrap(), "--export", export.to_str().unwrap(),
        "--min-char-freq", "1",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("118 kept"), "{}", text(&out));
    assert!(export.join("model.safetensors").exists() && export.join("vocab.json").exists());

    let out = shige(&["generate", "--model", ckpt.to_str().unwrap(), "--start", "日红山夜湖海月", "--form", "wujue"]);
    assert!(out.status.success(), "{}", text(&out));
    let poems: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect();
    assert_eq!(poems.len(), 7);
    for (poem, start) in poems.iter().zip("日红山夜湖海月".chars()) {
        assert!(poem.starts_with(start) && shige_core_is_wujue(poem), "{poem}");
    }

    let out = shige(&["generate", "--model", ckpt.to_str().unwrap(), "--acrostic", "春夏秋冬", "--form", "qijue"]);
    let poem = String::from_utf8(out.stdout).unwrap();
    let heads: String = poem.trim().split(['，', '。']).filter(|l| !l.is_empty()).map(|l| l.chars().next().unwrap()).collect();
    assert_eq!(heads, "春夏秋冬", "{poem}");

    let out = shige(&["eval", "--model", ckpt.to_str().unwrap(), "--corpus", corpus.to_str().unwrap(), "--samples", "5"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("perplexity") && text(&out).contains("well-formed"), "{}", text(&out));

    let out = shige(&["generate", "--model", ckpt.to_str().unwrap(), "--start", "Ω"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("'Ω' is not in the model's vocabulary"), "{}", text(&out));
}

fn shige_core_is_wujue(poem: &str) -> bool {
    let chars: Vec<char> = poem.chars().collect();
    chars.len() == 24 && chars.chunks(6).enumerate().all(|(i, l)| l[5] == if i % 2 == 0 { '，' } else { '。' })
}

#[test]
fn bad_inputs_give_clear_messages() {
    let gbk = scratch("gbk.txt");
    // "静夜思:床前明月光，疑是地上霜。" in GBK
    std::fs::write(&gbk, [0xbe, 0xb2, 0xd2, 0xb9, 0xcb, 0xbc, 0x3a, 0xb4, 0xb2, 0xc7, 0xb0, 0xc3, 0xf7, 0xd4, 0xc2, 0xb9, 0xe2]).unwrap();
    let out = shige(&["train", "--corpus", gbk.to_str().unwrap(), "--epochs", "1", "--out", scratch("x.ckpt").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("not valid UTF-8 (line 1)") && text(&out).contains("GBK"), "{}", text(&out));

    let empty = scratch("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let out = shige(&["train", "--corpus", empty.to_str().unwrap(), "--out", scratch("y.ckpt").to_str().unwrap()]);
    assert!(text(&out).contains("the corpus is empty"), "{}", text(&out));

    let corpus = tangshi();
    let out = shige(&["train", "--corpus", corpus.to_str().unwrap(), "--layers", "0", "--out", scratch("z.ckpt").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("layers must be at least 1"), "{}", text(&out));

    let out = shige(&["train", "--corpus", scratch("missing.txt").to_str().unwrap()]);
    assert!(text(&out).contains("cannot read"), "{}", text(&out));

    let junk = scratch("junk.ckpt");
    std::fs::write(&junk, b"definitely not a checkpoint").unwrap();
    let out = shige(&["generate", "--model", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("checkpoint"), "{}", text(&out));

    let out = shige(&["generate", "--model", junk.to_str().unwrap(), "--form", "sonnet"]);
    assert!(text(&out).contains("unknown form"), "{}", text(&out));
}

#[test]
fn every_command_has_help() {
    for cmd in ["train", "generate", "eval", "bench", "prepare"] {
        let out = shige(&[cmd, "--help"]);
        assert!(out.status.success() && text(&out).contains("Usage: shige"), "{cmd}: {}", text(&out));
    }
}
