//! Cutting text into terms. Chinese has no spaces, so a run of Han characters gives each
//! character and each pair of neighbours: every two-character word (漏水, 路灯) is a term
//! of its own, and a longer word is found through its pairs. Latin letters and digits give
//! whole words, lower-cased. Full-width forms are folded to half-width first, so `ＡＢ１`
//! and `ab1` are the same term. Punctuation and spaces separate runs and are no terms.

/// The kind of character a run is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Han,
    Word,
    Gap,
}

/// Folds full-width ASCII (U+FF01–U+FF5E) and the ideographic space to their half-width
/// forms, and ASCII upper case to lower case.
pub fn fold(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    };
    c.to_ascii_lowercase()
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2FA1F}')
}

fn run_of(c: char) -> Run {
    if is_han(c) {
        Run::Han
    } else if c.is_alphanumeric() {
        Run::Word
    } else {
        Run::Gap
    }
}

/// A term of a text and the character offset (in the folded text) where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub at: usize,
}

/// Every term of `text` in order: Han characters and their neighbouring pairs, and whole
/// Latin/digit words.
pub fn terms(text: &str) -> Vec<Term> {
    let chars: Vec<char> = text.chars().map(fold).collect();
    let mut out = Vec::with_capacity(chars.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        match run_of(chars[i]) {
            Run::Gap => i += 1,
            Run::Han => {
                out.push(Term {
                    text: chars[i].to_string(),
                    at: i,
                });
                if chars.get(i + 1).is_some_and(|&c| run_of(c) == Run::Han) {
                    out.push(Term {
                        text: [chars[i], chars[i + 1]].iter().collect(),
                        at: i,
                    });
                }
                i += 1;
            }
            Run::Word => {
                let start = i;
                while i < chars.len() && run_of(chars[i]) == Run::Word {
                    i += 1;
                }
                out.push(Term {
                    text: chars[start..i].iter().collect(),
                    at: start,
                });
            }
        }
    }
    out
}

/// The terms of a query: as [`terms`], but a Han run of two or more characters gives its
/// pairs only (a lone character would match far too much), and a lone Han character is kept.
pub fn query_terms(text: &str) -> Vec<String> {
    let all = terms(text);
    let mut out: Vec<String> = Vec::new();
    for (k, t) in all.iter().enumerate() {
        let single_han = t.text.chars().count() == 1 && t.text.chars().all(is_han);
        let paired = single_han
            && (all
                .get(k + 1)
                .is_some_and(|n| n.at == t.at && n.text.chars().count() == 2)
                || (k > 0 && all[k - 1].text.chars().count() == 2 && all[k - 1].at + 1 == t.at));
        if !paired && !out.contains(&t.text) {
            out.push(t.text.clone());
        }
    }
    out
}
