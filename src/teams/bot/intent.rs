//! What the person asked for, from what they typed: case, accents, punctuation and `<at>…</at>`
//! mentions removed, common typos tolerated, in French, English and Portuguese.

use unicode_normalization::UnicodeNormalization;

use crate::i18n::Locale;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// « Nom d'utilisateur oublié » (before ForgotPassword: « oublié » is in both).
    ForgotUsername,
    /// « Déverrouiller mon compte ».
    Unlock,
    ForgotPassword,
    Enroll,
    Help,
    Portal,
    Unknown,
}

/// Lower case, accents stripped, mentions and punctuation removed, spaces collapsed.
pub fn normalise(text: &str) -> String {
    let mut without_mentions = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<at>") {
        without_mentions.push_str(&rest[..start]);
        rest = rest[start..]
            .find("</at>")
            .map_or("", |end| &rest[start + end + 5..]);
    }
    without_mentions.push_str(rest);
    let folded: String = without_mentions
        .replace("&nbsp;", " ")
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Each intent is a list of alternatives; an alternative is a set of words that must all appear
/// (each matched allowing one typo for words of five letters or more), in one language (`None`
/// for words shared by several, like "portal" or "menu").
type Alternative = (Option<Locale>, &'static [&'static str]);

const RULES: &[(Intent, &[Alternative])] = &[
    (
        Intent::ForgotUsername,
        &[
            (Some(Locale::FrCa), &["nom", "utilisateur"]),
            (Some(Locale::FrCa), &["identifiant", "oublie"]),
            (Some(Locale::En), &["username"]),
            (Some(Locale::En), &["user", "name"]),
            (Some(Locale::Pt), &["usuario"]),
        ],
    ),
    (
        Intent::Unlock,
        &[
            (Some(Locale::FrCa), &["deverrouiller"]),
            (Some(Locale::FrCa), &["debloquer"]),
            (Some(Locale::FrCa), &["compte", "verrouille"]),
            (Some(Locale::FrCa), &["compte", "bloque"]),
            (Some(Locale::En), &["unlock"]),
            (Some(Locale::En), &["account", "locked"]),
            (Some(Locale::Pt), &["desbloquear"]),
            (Some(Locale::Pt), &["conta", "bloqueada"]),
        ],
    ),
    (
        Intent::ForgotPassword,
        &[
            // French
            (Some(Locale::FrCa), &["oublie"]),
            (Some(Locale::FrCa), &["oubli"]),
            (Some(Locale::FrCa), &["oublier"]),
            (Some(Locale::FrCa), &["reinitialiser"]),
            (Some(Locale::FrCa), &["reinitialisation"]),
            (Some(Locale::FrCa), &["perdu", "passe"]),
            (Some(Locale::FrCa), &["changer", "passe"]),
            (Some(Locale::FrCa), &["mdp"]),
            // English
            (Some(Locale::En), &["forgot"]),
            (Some(Locale::En), &["forgotten"]),
            (Some(Locale::En), &["forget"]),
            (Some(Locale::En), &["reset", "password"]),
            (Some(Locale::En), &["lost", "password"]),
            (Some(Locale::En), &["change", "password"]),
            (Some(Locale::En), &["password", "reset"]),
            // Portuguese
            (Some(Locale::Pt), &["esqueci"]),
            (Some(Locale::Pt), &["esqueceu"]),
            (Some(Locale::Pt), &["redefinir"]),
            (Some(Locale::Pt), &["recuperar", "senha"]),
            (Some(Locale::Pt), &["trocar", "senha"]),
            (Some(Locale::Pt), &["alterar", "senha"]),
        ],
    ),
    (
        Intent::Enroll,
        &[
            (Some(Locale::FrCa), &["inscrire"]),
            (Some(Locale::FrCa), &["inscription"]),
            (Some(Locale::FrCa), &["minscrire"]),
            (Some(Locale::FrCa), &["sinscrire"]),
            (Some(Locale::FrCa), &["premiere", "utilisation"]),
            (Some(Locale::En), &["enrol"]),
            (Some(Locale::En), &["enroll"]),
            (Some(Locale::En), &["enrollment"]),
            (Some(Locale::En), &["sign", "up"]),
            (Some(Locale::En), &["signup"]),
            (Some(Locale::En), &["register"]),
            (Some(Locale::En), &["first", "time"]),
            (Some(Locale::Pt), &["inscrever"]),
            (Some(Locale::Pt), &["cadastrar"]),
            (Some(Locale::Pt), &["cadastro"]),
            (Some(Locale::Pt), &["inscricao"]),
            (Some(Locale::Pt), &["primeiro", "acesso"]),
        ],
    ),
    (
        Intent::Portal,
        &[
            (Some(Locale::FrCa), &["portail"]),
            (None, &["portal"]),
            (Some(Locale::FrCa), &["lien", "octopus"]),
            (Some(Locale::En), &["link", "octopus"]),
            (None, &["site", "octopus"]),
        ],
    ),
    (
        Intent::Help,
        &[
            (Some(Locale::FrCa), &["aide"]),
            (Some(Locale::En), &["help"]),
            (Some(Locale::Pt), &["ajuda"]),
            (None, &["menu"]),
            (Some(Locale::FrCa), &["bonjour"]),
            (Some(Locale::FrCa), &["allo"]),
            (Some(Locale::FrCa), &["salut"]),
            (Some(Locale::En), &["hello"]),
            (Some(Locale::En), &["hi"]),
            (Some(Locale::Pt), &["ola"]),
            (Some(Locale::Pt), &["oi"]),
            (None, &["info"]),
        ],
    ),
];

pub fn intent(text: &str) -> Intent {
    intent_and_language(text).0
}

/// What the person asked for and, when the words matched belong to one language, that language:
/// someone who writes « mot de passe oublié » is answered in French whatever their Teams is set to.
pub fn intent_and_language(text: &str) -> (Intent, Option<Locale>) {
    let norm = normalise(text);
    // "m'inscrire" normalises to "m inscrire"; also try the words glued back together.
    let glued = norm
        .replace("m inscrire", "minscrire")
        .replace("s inscrire", "sinscrire");
    // Each word with its length in characters, counted once (a keyword's is its byte length:
    // the keywords are ASCII).
    let words: Vec<(&str, usize)> = glued
        .split(' ')
        .chain(norm.split(' '))
        .filter(|w| !w.is_empty())
        .map(|w| (w, w.chars().count()))
        .collect();
    if words.is_empty() {
        return (Intent::Help, None);
    }
    // Exact words first, so that "portal" is not taken for a typo of « portail ».
    let exact = |w: &str, _: usize, k: &str| w == k;
    for matches in [exact, close_counted] {
        for (intent, alternatives) in RULES {
            if let Some((lang, _)) = alternatives.iter().find(|(_, all)| {
                all.iter()
                    .all(|k| words.iter().any(|&(w, chars)| matches(w, chars, k)))
            }) {
                return (*intent, *lang);
            }
        }
    }
    (Intent::Unknown, None)
}

/// Equal, or one edit apart for words of five letters or more ("oubleé", "pasword", "esquesi").
#[cfg(test)]
fn close(word: &str, keyword: &str) -> bool {
    let (a, b) = (word.chars().count(), keyword.chars().count());
    word == keyword || (b >= 5 && a.abs_diff(b) <= 1 && one_edit_apart(word, keyword))
}

/// [`close`] for a word whose length in characters is known; `keyword` is ASCII. Allocates
/// nothing: the lengths rule most pairs out before a character is compared.
fn close_counted(word: &str, word_chars: usize, keyword: &str) -> bool {
    if word == keyword {
        return true;
    }
    if keyword.len() < 5 || word_chars.abs_diff(keyword.len()) > 1 {
        return false;
    }
    one_edit_apart(word, keyword)
}

/// Optimal-string-alignment distance ≤ 1 (substitution, insertion, deletion or transposition of
/// two neighbours): after the common prefix, the rests agree once that one edit is made.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let mismatch = a
        .char_indices()
        .zip(b.char_indices())
        .find(|((_, x), (_, y))| x != y);
    let Some(((i, x), (j, y))) = mismatch else {
        // One is a prefix of the other: they differ by what the longer one has more.
        return a.chars().count().abs_diff(b.chars().count()) <= 1;
    };
    let (ra, rb) = (&a[i..], &b[j..]);
    let (after_x, after_y) = (&ra[x.len_utf8()..], &rb[y.len_utf8()..]);
    if after_x == after_y || after_x == rb || ra == after_y {
        return true;
    }
    // Two neighbours swapped: "xy…" against "yx…".
    let (mut na, mut nb) = (after_x.chars(), after_y.chars());
    matches!((na.next(), nb.next()), (Some(x2), Some(y2)) if x2 == y && y2 == x)
        && na.as_str() == nb.as_str()
}

#[cfg(test)]
mod tests {
    use super::{Intent::*, *};

    /// The optimal-string-alignment distance ≤ 1 by the full matrix: what [`close`] must agree with.
    fn close_by_matrix(word: &str, keyword: &str) -> bool {
        if word == keyword {
            return true;
        }
        let (a, b): (Vec<char>, Vec<char>) = (word.chars().collect(), keyword.chars().collect());
        if b.len() < 5 || a.len().abs_diff(b.len()) > 1 {
            return false;
        }
        let (n, m) = (a.len(), b.len());
        let mut d = vec![vec![0usize; m + 1]; n + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=n {
            for j in 1..=m {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[i - 2][j - 2] + 1);
                }
                d[i][j] = v;
            }
        }
        d[n][m] <= 1
    }

    #[test]
    fn one_edit_agrees_with_the_full_distance() {
        let keywords = [
            "password",
            "oublie",
            "esqueci",
            "reinitialiser",
            "abcab",
            "aabba",
        ];
        // Every word at most two edits from a keyword (on a small alphabet, with a non-ASCII
        // letter), plus unrelated ones.
        let alphabet = ['a', 'b', 's', 'é', 'ж'];
        for k in keywords {
            let chars: Vec<char> = k.chars().collect();
            let mut words = vec![k.to_string(), String::new(), "x".into(), format!("{k}{k}")];
            for i in 0..=chars.len() {
                for c in alphabet {
                    let mut ins = chars.clone();
                    ins.insert(i, c);
                    words.push(ins.iter().collect());
                    if i < chars.len() {
                        let mut sub = chars.clone();
                        sub[i] = c;
                        words.push(sub.iter().collect());
                        let mut del = chars.clone();
                        del.remove(i);
                        words.push(del.iter().collect());
                        // Two edits: a substitution and a deletion elsewhere.
                        if del.len() > i + 1 {
                            del[i + 1] = c;
                            words.push(del.iter().collect());
                        }
                    }
                    if i + 1 < chars.len() {
                        let mut swap = chars.clone();
                        swap.swap(i, i + 1);
                        words.push(swap.iter().collect());
                        swap[0] = c;
                        words.push(swap.iter().collect());
                    }
                }
            }
            for w in &words {
                assert_eq!(close(w, k), close_by_matrix(w, k), "{w:?} / {k:?}");
                assert_eq!(close(k, w), close_by_matrix(k, w), "{k:?} / {w:?}");
            }
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            normalise("<at>Octopus</at>&nbsp;Mot de passe OUBLIÉ ?!"),
            "mot de passe oublie"
        );
        assert_eq!(normalise("M’inscrire"), "m inscrire");
    }

    #[test]
    fn intents_in_three_languages_with_typos() {
        let cases = [
            ("mot de passe oublié", ForgotPassword),
            ("Mot de passe oublie", ForgotPassword),
            ("j'ai oublié mon mot de passe", ForgotPassword),
            ("mot de pase oublé", ForgotPassword),
            ("<at>Octopus</at> mot de passe oublié", ForgotPassword),
            ("réinitialiser mon mot de passe", ForgotPassword),
            ("mdp", ForgotPassword),
            ("forgot password", ForgotPassword),
            ("I forgot my pasword", ForgotPassword),
            ("fogot password", ForgotPassword),
            ("reset password", ForgotPassword),
            ("esqueci a senha", ForgotPassword),
            ("Esqueci minha senha!", ForgotPassword),
            ("esquesi a senha", ForgotPassword),
            ("m'inscrire", Enroll),
            ("M’inscrire au service", Enroll),
            ("inscription", Enroll),
            ("sign up", Enroll),
            ("enroll", Enroll),
            ("me cadastrar", Enroll),
            ("inscrever-me no serviço", Enroll),
            ("aide", Help),
            ("help", Help),
            ("ajuda", Help),
            ("", Help),
            ("   ", Help),
            ("lien du portail", Portal),
            ("portal", Portal),
            ("nom d'utilisateur oublié", ForgotUsername),
            ("Quel est mon nom d'utilisateur ?", ForgotUsername),
            ("forgot my username", ForgotUsername),
            ("What is my user name?", ForgotUsername),
            ("esqueci meu usuário", ForgotUsername),
            ("Esqueci o meu nome de usuário", ForgotUsername),
            ("déverrouiller mon compte", Unlock),
            ("mon compte est verrouillé", Unlock),
            ("unlock my account", Unlock),
            ("desbloquear minha conta", Unlock),
            ("I looked for the portal", Portal),
            ("quelle heure est-il", Unknown),
            ("the printer is broken", Unknown),
        ];
        for (text, expected) in cases {
            assert_eq!(intent(text), expected, "{text:?}");
        }
    }

    #[test]
    fn the_words_typed_tell_the_language_when_they_belong_to_one() {
        let cases = [
            ("mot de passe oublié", Some(Locale::FrCa)),
            ("m'inscrire", Some(Locale::FrCa)),
            ("aide", Some(Locale::FrCa)),
            ("I forgot my password", Some(Locale::En)),
            ("sign up", Some(Locale::En)),
            ("esqueci a senha", Some(Locale::Pt)),
            ("quel est mon nom d'utilisateur", Some(Locale::FrCa)),
            ("what is my username", Some(Locale::En)),
            ("esqueci meu usuário", Some(Locale::Pt)),
            ("ajuda", Some(Locale::Pt)),
            ("portal", None),
            ("menu", None),
            ("the printer is broken", None),
        ];
        for (text, expected) in cases {
            assert_eq!(intent_and_language(text).1, expected, "{text:?}");
        }
    }
}
