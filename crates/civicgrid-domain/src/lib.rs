//! The pure core of civicgrid.
//!
//! Nothing in this crate performs I/O, reads the clock or touches a database: every function
//! takes what it needs as arguments, which is what makes the rules exhaustively testable.
//! The store and the shells (CLI, HTTP, jobs) call into it; it never calls out.

/// A closed set of words kept as text (a report's status, an accountability measure): the
/// enum, `ALL`, `as_str`, `Display`, and `FromStr` whose error names the words it takes.
/// Defined before the modules so that each can use it.
macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!(
                        "`{s}` is not a {}; one of {}",
                        $what,
                        $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    ))
            }
        }
    };
}

pub mod access;
pub mod accountability;
pub mod application;
pub mod calendar;
pub mod case;
pub mod catalogue;
pub mod consultation;
pub mod dispute;
pub mod emergency;
pub mod geometry;
pub mod household;
pub mod kpi;
pub mod lists;
pub mod notification;
pub mod notify;
pub mod party;
pub mod policy;
pub mod routing;
pub mod supervision;
pub mod territory;
pub mod text;
pub mod volunteer;
pub mod wish;
