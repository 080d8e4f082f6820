//! `shige meter`: the 格律 check (`shige_core::text::meter`) of one poem, or of every poem read
//! from stdin, as a report in words. The exit status says how it went, for scripts: 0 when every
//! poem passes, 1 when one breaks a rule, 2 on input that cannot be checked (nothing, a poem that
//! is not 4 or 8 lines of 5 or 7 characters, a binary file or one that is not UTF-8).

use std::io::Read;

use clap::Args;
use shige_core::text::meter::{self, Ao, Fault, MeterReport};

#[derive(Args)]
pub struct MeterArgs {
    /// The poem, lines ended by ，。？！； (e.g. 白日依山尽，黄河入海流。欲穷千里目，更上一层楼。);
    /// `-` reads poems from stdin, one a line (a `title:` before a poem is skipped)
    poem: String,
}

/// The exit statuses.
pub const PASSES: i32 = 0;
pub const BREAKS: i32 = 1;
pub const BAD_INPUT: i32 = 2;

/// Most bytes read from stdin: the whole built-in corpus is 12 MB.
const MAX_INPUT_BYTES: usize = 64 << 20;

/// Checks the poems and prints a report for each; returns the exit status.
pub fn run(args: MeterArgs) -> i32 {
    let text = if args.poem == "-" {
        match read_stdin() {
            Ok(text) => text,
            Err(why) => {
                eprintln!("error: {why}");
                return BAD_INPUT;
            }
        }
    } else {
        args.poem
    };
    // One poem a line; `title:content`, the corpus's format, checks the content.
    let poems: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.rsplit_once(':').map_or(line, |(_, content)| content)))
        .map(|(n, poem)| (n, poem.chars().filter(|c| !c.is_whitespace()).collect::<String>()))
        .filter(|(_, poem)| !poem.is_empty())
        .collect();
    if poems.is_empty() {
        eprintln!("error: no poem to check (the input is empty)");
        return BAD_INPUT;
    }
    let (mut passed, mut broke, mut bad) = (0, 0, 0);
    for (i, (line, poem)) in poems.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("{poem}");
        match meter::check(poem) {
            Some(report) => {
                print!("{}", describe(&report));
                if report.passes() { passed += 1 } else { broke += 1 }
            }
            None => {
                bad += 1;
                let at = if poems.len() > 1 { format!(" (input line {line})") } else { String::new() };
                eprintln!("error{at}: not a 绝句 or 律诗: the check needs 4 or 8 lines of 5 or 7 Chinese characters, each ended by ，。？！ or ；");
            }
        }
    }
    if poems.len() > 1 {
        println!("\n{} poems: {passed} pass, {broke} break a rule, {bad} cannot be checked", poems.len());
    }
    if bad > 0 {
        BAD_INPUT
    } else if broke > 0 {
        BREAKS
    } else {
        PASSES
    }
}

/// Stdin as text, refusing what is not: a binary file (a NUL byte) or bytes that are not UTF-8.
fn read_stdin() -> Result<String, String> {
    let mut bytes = Vec::new();
    std::io::stdin().take(MAX_INPUT_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read stdin: {e}"))?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(format!("stdin is larger than the limit of {} MiB", MAX_INPUT_BYTES >> 20));
    }
    if bytes.contains(&0) {
        return Err("stdin is a binary file, not poems".into());
    }
    String::from_utf8(bytes).map_err(|e| format!("stdin is not UTF-8 text (byte {} is not); save the poems as UTF-8", e.utf8_error().valid_up_to()))
}

/// The report in words: form, pattern and rhyme, each line beside its pattern (`?` where a
/// position is free), then the verdict and each fault.
fn describe(r: &MeterReport) -> String {
    let mut out = String::new();
    let rhyme = match r.rhyme.group {
        Some(g) => format!("rhyme {}", meter::group_name(g)),
        None => "no shared level-tone rhyme group".into(),
    };
    out += &format!("  {} · {} · {rhyme}\n", r.form.name(), r.pattern.name());
    for (line, marks) in r.lines.iter().zip(r.marks()) {
        let ao: Vec<&str> = line.ao.iter().map(|&a| ao_name(a)).collect();
        let ao = if ao.is_empty() { String::new() } else { format!("  (拗: {})", ao.join(", ")) };
        out += &format!("  {}  {marks}{ao}\n", line.text());
    }
    if let Some(g) = r.rhyme.borrowed {
        out += &format!("  line 1 borrows its rhyme from the neighbouring {} (首句借邻韵)\n", meter::group_name(g));
    }
    if r.passes() {
        out += "  passes: pattern, 粘 and 对, no 孤平 or 三平尾, one level-tone rhyme\n";
    } else {
        out += &format!("  breaks the 格律 in {} place{}:\n", r.faults.len(), if r.faults.len() == 1 { "" } else { "s" });
        for &f in &r.faults {
            out += &format!("  - {}\n", fault(r, f));
        }
    }
    out
}

/// One fault in words (the page's English, www/locales/en.js `tones.fault`, with the groups).
fn fault(r: &MeterReport, f: Fault) -> String {
    let ch = |line: usize, pos: usize| r.lines[line].positions[pos].ch;
    let last = |line: usize| ch(line, r.form.chars - 1);
    let groups = |c: char| {
        let names: Vec<String> = meter::groups(c).level().iter().map(meter::group_name).collect();
        if names.is_empty() { "no level-tone group".to_string() } else { names.join("、") }
    };
    match f {
        Fault::Broken { line, pos } => {
            let p = r.lines[line].positions[pos];
            format!("line {}, character {} (“{}”) should be {}", line + 1, pos + 1, p.ch, p.expected.mark())
        }
        Fault::Unknown { line, pos } => format!("line {}, character {} (“{}”) has no known tone", line + 1, pos + 1, ch(line, pos)),
        Fault::GuPing { line } => format!("孤平 (a lone level tone) in line {}", line + 1),
        Fault::SanPingWei { line } => format!("三平尾 (three level tones at the end) in line {}", line + 1),
        Fault::ShiDui { line } => format!("失对: lines {} and {} should have opposite tones", line + 1, line + 2),
        Fault::ShiNian { line } => format!("失粘: lines {} and {} should have the same tones", line + 1, line + 2),
        Fault::OffRhyme { line } => format!("line {} is off the rhyme: “{}” is in {}", line + 1, last(line), groups(last(line))),
        Fault::FirstLineOffRhyme => format!(
            "line 1 rhymes in “{}” ({}), which is in neither the rhyme group nor a neighbouring one \
             (a first line may borrow only from those: 首句借邻韵)",
            last(0),
            groups(last(0))
        ),
    }
}

fn ao_name(ao: Ao) -> &'static str {
    match ao {
        Ao::GuPingRescued => "孤平拗救",
        Ao::RescuedByNextLine => "rescued by the next line",
        Ao::RescuesPreviousLine => "rescues the line before",
        Ao::SpecialForm => "特拗 平平仄平仄",
    }
}
