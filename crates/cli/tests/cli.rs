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
    assert!(text(&out).contains("'--layers <LAYERS>': 0 is out of range: use 1 to 8"), "{}", text(&out));

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
    for cmd in ["train", "generate", "eval", "bench", "prepare", "compact", "export", "meter"] {
        let out = shige(&[cmd, "--help"]);
        assert!(out.status.success() && text(&out).contains("Usage: shige"), "{cmd}: {}", text(&out));
    }
}

/// Runs `shige train` on tangshi.txt with `extra` flags and returns its output.
fn train(extra: &[&str]) -> Output {
    let corpus = tangshi();
    let mut args = vec!["train", "--corpus", corpus.to_str().unwrap()];
    if !extra.iter().any(|a| a.starts_with("--epochs") || a.starts_with("--minutes")) {
        args.extend(["--epochs", "0.05"]);
    }
    for (flag, small) in [("--embedding", "8"), ("--hidden", "8")] {
        // The Transformer refuses --hidden (it has no such width).
        if !extra.contains(&flag) && !(flag == "--hidden" && extra.contains(&"transformer")) {
            args.extend([flag, small]);
        }
    }
    args.extend_from_slice(extra);
    shige(&args)
}

#[test]
fn bad_flags_are_refused_before_any_work() {
    let out_path = scratch("flags.ckpt");
    let out = out_path.to_str().unwrap();
    for (flags, message) in [
        (&["--lr", "NaN"][..], "'--lr <LR>': NaN is out of range"),
        (&["--lr", "0"], "use a number above 0"),
        (&["--lr=-1e-3"], "use a number above 0"),
        (&["--lr", "inf"], "use a number above 0"),
        (&["--grad-clip", "nan"], "use a number in [0, 1000000]"),
        (&["--lr-final-ratio", "2"], "use a number in [0, 1]"),
        (&["--validation-share", "1"], "use a number in [0, 1)"),
        (&["--validation-share", "NaN"], "use a number in [0, 1)"),
        (&["--dropout", "1"], "use a number in [0, 1)"),
        (&["--hidden", "100000"], "100000 is out of range: use 1 to 4096"),
        (&["--embedding", "0"], "0 is out of range: use 1 to 4096"),
        (&["--batch-size", "0"], "'--batch-size <BATCH_SIZE>': 0 is out of range: use 1 to 4096"),
        (&["--batch-size", "53024288"], "'--batch-size <BATCH_SIZE>': 53024288 is out of range: use 1 to 4096"),
        (&["--max-seq-len", "1"], "1 is out of range: use 2 to 1024"),
        (&["--max-seq-len", "1025"], "'--max-seq-len <MAX_SEQ_LEN>': 1025 is out of range: use 2 to 1024"),
        // Each of these panicked (Duration::from_secs_f64, a remainder by zero) or trained
        // nothing and exited 0.
        (&["--minutes", "nan"], "'--minutes <MINUTES>': nan is out of range: use a number above 0"),
        (&["--minutes", "inf"], "'--minutes <MINUTES>': inf is out of range"),
        (&["--minutes=-1"], "'--minutes <MINUTES>': -1 is out of range"),
        (&["--minutes", "0"], "'--minutes <MINUTES>': 0 is out of range"),
        (&["--epochs", "nan"], "'--epochs <EPOCHS>': nan is out of range: use a number above 0"),
        (&["--epochs", "inf"], "'--epochs <EPOCHS>': inf is out of range"),
        (&["--epochs=-2"], "'--epochs <EPOCHS>': -2 is out of range"),
        (&["--epochs", "0"], "'--epochs <EPOCHS>': 0 is out of range"),
        (&["--eval-every", "0"], "'--eval-every <EVAL_EVERY>': 0 is out of range: use 1 or more"),
        (&["--save-every", "0"], "'--save-every <SAVE_EVERY>': 0 is out of range: use 1 or more"),
        (&["--save-every=-5"], "'--save-every <SAVE_EVERY>': \"-5\" is not a whole number"),
        (&["--cell", "gpt"], "unknown cell \"gpt\": use rnn, lstm, gru or transformer"),
        // Settings of the other kind of model, and Transformer sizes that do not split.
        (&["--cell", "transformer", "--hidden", "64"], "--hidden is a recurrent cell's setting"),
        (&["--heads", "4"], "--heads is a Transformer setting"),
        (&["--cell", "lstm", "--no-bias"], "--bias / --no-bias are Transformer settings"),
        (&["--cell", "transformer", "--embedding", "130"], "the embedding size (130) must be divisible by the number of heads (4)"),
        (&["--cell", "transformer", "--embedding", "8", "--heads", "16"], "heads must be between 1 and the embedding size 8"),
    ] {
        let mut args = flags.to_vec();
        args.extend(["--out", out]);
        let result = train(&args);
        assert!(!result.status.success(), "{flags:?} was accepted");
        let said = text(&result);
        assert!(said.contains(message), "{flags:?}: {said}");
        assert!(!out_path.exists(), "{flags:?} trained anyway");
    }
    // Models too large for the parameter limit are refused once the vocabulary is known.
    let said = text(&train(&["--embedding", "4096", "--hidden", "4096", "--layers", "8", "--out", out]));
    assert!(said.contains("parameters; the limit is"), "{said}");
    assert!(!out_path.exists());
}

#[test]
fn bad_sampling_and_bench_flags_are_refused_with_the_flag_named() {
    // Parsing comes first, so no model or corpus is read: these paths need not exist.
    let model = scratch("never-read.ckpt");
    let model = model.to_str().unwrap();
    for (flags, message) in [
        (&["generate", "--model", model, "--top-p", "0"][..], "'--top-p <TOP_P>': 0 is out of range: use a number above 0 and at most 1"),
        (&["generate", "--model", model, "--top-p", "nan"], "'--top-p <TOP_P>': nan is out of range"),
        (&["generate", "--model", model, "--temperature", "inf"], "'--temperature <TEMPERATURE>': inf is out of range"),
        (&["generate", "--model", model, "--max-chars", "0"], "'--max-chars <MAX_CHARS>': 0 is out of range: use 1 to 10000"),
        (&["eval", "--model", model, "--corpus", model, "--repetition-penalty", "nan"], "'--repetition-penalty <REPETITION_PENALTY>'"),
        (&["bench", "--corpus", model, "--batch-size", "0"], "'--batch-size <BATCH_SIZE>': 0 is out of range: use 1 to 4096"),
        (&["bench", "--corpus", model, "--seq", "1"], "'--seq <SEQ>': 1 is out of range: use 2 to 1024"),
        (&["bench", "--corpus", model, "--steps", "0"], "'--steps <STEPS>': 0 is out of range: use 1 to 100000"),
    ] {
        let out = shige(flags);
        assert_eq!(out.status.code(), Some(2), "{flags:?} was not refused as a usage error: {}", text(&out));
        assert!(text(&out).contains(message), "{flags:?}: {}", text(&out));
    }
}

#[test]
fn outputs_are_checked_before_training_and_never_overwritten_by_accident() {
    let missing_dir = scratch("no-such-folder").join("x.ckpt");
    let said = text(&train(&["--out", missing_dir.to_str().unwrap()]));
    assert!(said.contains(&format!("cannot write {}", missing_dir.display())), "{said}");
    let log = scratch("no-such-folder").join("log.csv");
    let said = text(&train(&["--out", scratch("ok.ckpt").to_str().unwrap(), "--log", log.to_str().unwrap()]));
    assert!(said.contains(&format!("cannot write {}", log.display())), "{said}");
    assert!(!scratch("ok.ckpt").exists());
    let a_file = scratch("a-file");
    std::fs::write(&a_file, b"x").unwrap();
    let said = text(&train(&["--out", scratch("ok.ckpt").to_str().unwrap(), "--export", a_file.join("sub").to_str().unwrap()]));
    assert!(said.contains("cannot create the export folder"), "{said}");

    let existing = scratch("existing.ckpt");
    let first = train(&["--out", existing.to_str().unwrap()]);
    assert!(first.status.success(), "{}", text(&first));
    let before = std::fs::read(&existing).unwrap();
    // The default recipe (warm-up, stable, linear decay; output dropout 0.3); the checkpoint keeps the run's peak
    // rate, not where the schedule had decayed to, so a resumed run schedules from the peak.
    let ckpt = shige_core::Checkpoint::from_bytes(&before).unwrap();
    assert_eq!((ckpt.train.learning_rate, ckpt.train.output_dropout), (0.003, 0.3));
    let said = text(&train(&["--out", existing.to_str().unwrap()]));
    assert!(said.contains("already exists") && said.contains("--force"), "{said}");
    assert_eq!(std::fs::read(&existing).unwrap(), before, "overwritten");
    assert!(train(&["--out", existing.to_str().unwrap(), "--force"]).status.success());

    // Resume: --lr overrides the checkpoint's rate; another corpus warns.
    let corpus = tangshi();
    let resumed = shige(&["train", "--corpus", corpus.to_str().unwrap(), "--resume", existing.to_str().unwrap(),
        "--out", existing.to_str().unwrap(), "--epochs", "0.05", "--lr", "0.0005"]);
    assert!(resumed.status.success(), "{}", text(&resumed));
    let ckpt = shige_core::Checkpoint::from_bytes(&std::fs::read(&existing).unwrap()).unwrap();
    assert_eq!(ckpt.train.learning_rate, 0.0005);
    let other = scratch("other.txt");
    std::fs::write(&other, (0..40).map(|i| format!("t{i}:abcdefg{},hijklmn.\n", i % 7)).collect::<String>()).unwrap();
    let said = text(&shige(&["train", "--corpus", other.to_str().unwrap(), "--resume", existing.to_str().unwrap(),
        "--out", existing.to_str().unwrap(), "--epochs", "0.05"]));
    assert!(said.contains("are not in the checkpoint's vocabulary"), "{said}");
}

#[test]
fn corpora_are_size_checked_and_utf16_is_named() {
    if Path::new("/dev/zero").exists() {
        let said = text(&shige(&["train", "--corpus", "/dev/zero", "--out", scratch("zero.ckpt").to_str().unwrap()]));
        assert!(said.contains("/dev/zero is larger than the limit of 256 MiB"), "{said}");
    }
    let utf16 = scratch("utf16.txt");
    let bytes: Vec<u8> = [0xFF, 0xFE].into_iter().chain("静夜思:床前明月光，疑是地上霜。".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    std::fs::write(&utf16, bytes).unwrap();
    let said = text(&shige(&["train", "--corpus", utf16.to_str().unwrap(), "--out", scratch("u.ckpt").to_str().unwrap()]));
    assert!(said.contains("UTF-16 text (little-endian); re-save it as UTF-8"), "{said}");
}

#[test]
fn generate_and_eval_refuse_what_they_cannot_do() {
    let latin = scratch("latin.txt");
    std::fs::write(&latin, (0..60).map(|i| format!("t{i}:abcdefg{},hijklmn.\n", i % 7)).collect::<String>()).unwrap();
    let model = scratch("latin.ckpt");
    let out = shige(&["train", "--corpus", latin.to_str().unwrap(), "--embedding", "4", "--hidden", "4", "--epochs", "0.2",
        "--min-char-freq", "1", "--out", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&shige(&["eval", "--model", model.to_str().unwrap(), "--corpus", latin.to_str().unwrap(), "--samples", "3"]));
    assert!(said.contains("has no Chinese characters, so it cannot write verse"), "{said}");
    let said = text(&shige(&["generate", "--model", model.to_str().unwrap(), "--start", ""]));
    assert!(said.contains("give at least one start character"), "{said}");
    let said = text(&shige(&["generate", "--model", model.to_str().unwrap(), "--start", "a", "--temperature", "nan"]));
    assert!(said.contains("--temperature"), "{said}");
    let said = text(&shige(&["generate", "--model", model.to_str().unwrap(), "--start", "a", "--form", "wujue"]));
    assert!(said.contains("no Chinese characters, so it cannot write verse"), "{said}");
}

#[test]
fn extra_training_poems_join_the_training_split_only() {
    let corpus = tangshi();
    let extra = scratch("extra.txt");
    // Poems with a character tangshi.txt lacks: the model learns it only from these.
    std::fs::write(&extra, (0..10).map(|i| format!("新{i}:鑫山明月光，鑫水白云长。\n")).collect::<String>()).unwrap();
    let eval = |ckpt: &Path| -> serde_json::Value {
        let out = shige(&["eval", "--model", ckpt.to_str().unwrap(), "--corpus", corpus.to_str().unwrap(), "--samples", "0", "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (plain, with_extra) = (scratch("plain.ckpt"), scratch("extra.ckpt"));
    for (ckpt, more) in [(&plain, vec![]), (&with_extra, vec!["--extra-train", extra.to_str().unwrap()])] {
        let mut args = vec!["train", "--corpus", corpus.to_str().unwrap(), "--embedding", "8", "--hidden", "8"];
        args.extend(["--epochs", "0.2", "--min-char-freq", "1", "--out", ckpt.to_str().unwrap(), "--force"]);
        args.extend(more.iter().copied());
        let out = shige(&args);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(text(&out).contains("10 more training poems"), ckpt == &with_extra, "{}", text(&out));
    }
    // The validation split is --corpus's own either way.
    assert_eq!(eval(&plain)["heldOutPoems"], eval(&with_extra)["heldOutPoems"]);
    let start = |ckpt: &Path| shige(&["generate", "--model", ckpt.to_str().unwrap(), "--start", "鑫"]).status.success();
    assert!(!start(&plain) && start(&with_extra), "鑫 is known only from the extra poems");
}

/// `--extra-train` poems equal to a validation poem of `--corpus` (after cleaning) are dropped
/// and counted: with tangshi.txt as its own extra file, exactly its validation poems.
#[test]
fn extra_training_poems_equal_to_a_validation_poem_are_dropped() {
    let corpus = tangshi();
    let parsed = shige_core::load_corpus(&std::fs::read(&corpus).unwrap(), &shige_core::CleaningConfig::new()).unwrap();
    let held_out: Vec<&Vec<char>> = parsed.validation.iter().map(|p| &p.content).collect();
    let all = parsed.train.iter().chain(&parsed.validation);
    let dropped = all.clone().filter(|p| held_out.contains(&&p.content)).count();
    let kept = all.count() - dropped;
    assert!(dropped > 0);
    let out = train(&["--extra-train", corpus.to_str().unwrap(), "--out", scratch("dedup.ckpt").to_str().unwrap(), "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = format!("{kept} more training poems ({dropped} dropped: equal to a validation poem of --corpus)");
    assert!(text(&out).contains(&said), "expected {said:?} in {}", text(&out));
}

/// Runs `shige meter` with `args`, `stdin` piped in.
fn meter(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_shige"))
        .arg("meter")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// `shige meter`: the report in words, exit 0 when every poem passes, 1 when one breaks a rule
/// (here a first line rhyming in a far group), 2 on input it cannot check.
#[test]
fn meter_reports_in_words_and_exits_by_the_verdict() {
    const DENG: &str = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。";
    const FENGQIAO: &str = "月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。";
    let out = meter(&[DENG], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("五绝") && text(&out).contains("仄起首句不入韵") && text(&out).contains("passes"), "{}", text(&out));
    // 天 (下平声一先) -> 东 (上平声一东), far from the even lines' 先: the first line is off.
    let far = FENGQIAO.replacen('天', "东", 1);
    let out = meter(&[&far], b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("line 1 rhymes in “东”") && text(&out).contains("neighbouring"), "{}", text(&out));
    // -> 山 (上平声十五删), a neighbour of 先 (首句借邻韵): passes.
    let out = meter(&[&FENGQIAO.replacen('天', "山", 1)], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("borrows its rhyme from the neighbouring 上平声十五删"), "{}", text(&out));
    // Poems from stdin, one a line (a title before `:` skipped): one breaks, so 1.
    let out = meter(&["-"], format!("登鹳雀楼:{DENG}\n\n{far}\n").as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("2 poems: 1 pass, 1 break a rule, 0 cannot be checked"), "{}", text(&out));
    // Input it cannot check.
    for (args, stdin, message) in [
        (&[""][..], &b""[..], "no poem to check"),
        (&["床前明月光，疑是地上霜。"], b"", "not a 绝句 or 律诗"),
        (&["-"], b"", "no poem to check"),
        (&["-"], b"\x00\x01\x02binary", "binary"),
        (&["-"], b"\xbe\xb2\xd2\xb9\xcb\xbc", "not UTF-8"),
        (&["-"], format!("{DENG}\n床前明月光\n").as_bytes(), "input line 2"),
    ] {
        let out = meter(args, stdin);
        assert_eq!(out.status.code(), Some(2), "{args:?} {stdin:?}: {}", text(&out));
        assert!(text(&out).contains(message), "{args:?}: {}", text(&out));
    }
}

/// `train --resume` checks the saved settings as the page's `Trainer.load` does, says how to
/// repair, applies the step settings given and refuses the flags the checkpoint fixes.
#[test]
fn resume_checks_the_saved_settings_and_every_flag() {
    let saved = scratch("resume.ckpt");
    let first = train(&["--out", saved.to_str().unwrap(), "--force"]);
    assert!(first.status.success(), "{}", text(&first));
    let corpus = tangshi();
    let resume = |extra: &[&str]| {
        let mut args = vec!["train", "--corpus", corpus.to_str().unwrap(), "--resume", saved.to_str().unwrap()];
        args.extend(["--out", saved.to_str().unwrap(), "--epochs", "0.05"]);
        args.extend_from_slice(extra);
        shige(&args)
    };
    let read = || shige_core::Checkpoint::from_bytes(&std::fs::read(&saved).unwrap()).unwrap();

    // A sequence cap of 2048, as an older shige saved (it allowed up to 4096): refused, with
    // the repair, which then applies.
    let mut old = read();
    old.train.max_seq_len = 2048;
    std::fs::write(&saved, old.to_bytes()).unwrap();
    let out = resume(&[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("the sequence cap must be between 2") && text(&out).contains("`--max-seq-len 1024`"), "{}", text(&out));
    let out = resume(&["--max-seq-len", "1024"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--max-seq-len 1024 applies from step") && text(&out).contains("was 2048"), "{}", text(&out));
    assert_eq!(read().train.max_seq_len, 1024);

    // Step settings apply, and are said.
    let out = resume(&["--batch-size", "4", "--grad-clip", "0.5"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--batch-size 4 applies") && text(&out).contains("--grad-clip 0.5 applies"), "{}", text(&out));
    let ckpt = read();
    assert_eq!((ckpt.train.batch_size, ckpt.train.grad_clip), (4, 0.5));

    // What the checkpoint fixes is refused when asked to change, each flag named; the same
    // value is fine.
    let before = std::fs::read(&saved).unwrap();
    let out = resume(&["--hidden", "16", "--seed", "7", "--min-char-freq", "3", "--split-seed", "1"]);
    assert!(!out.status.success(), "{}", text(&out));
    for flag in ["--hidden 16", "--seed 7", "--min-char-freq 3", "--split-seed 1"] {
        assert!(text(&out).contains(&format!("{flag} cannot change on --resume")), "{flag}: {}", text(&out));
    }
    assert_eq!(std::fs::read(&saved).unwrap(), before, "refused, yet trained");
    let hidden = ckpt.model.shape.hidden.to_string();
    assert!(resume(&["--hidden", &hidden]).status.success());
}
