//! The case loop as a pure state machine.
//!
//! `decide(state, action, actor)` checks an action against the current state and either
//! refuses it (naming the current state) or returns the event to record; `apply(state, event)`
//! is the only way state changes. Because every change is an event and `apply` is a fold,
//! replaying a case's events from its creation rebuilds it exactly — the store relies on this
//! (the row is a cache of the fold) and the property test checks it.
//!
//! Main path: 上报 reported → 受理 accepted (or 不予受理 refused) → 立案 registered →
//! 派遣 dispatched → 处置 handling → 反馈 reported back → 核查: pass → 结案 closed, fail →
//! handling again (rework) → 回访/评价 evaluated. Exceptions: send back, transfer, extension,
//! shelving, voiding (each needing approval where the glossary says so), supervision, merge,
//! on-the-spot resolution, and reopening after an unsatisfied evaluation.

pub mod deadline;
mod machine;
mod record;

pub use machine::*;
pub use record::*;

#[cfg(test)]
pub(crate) mod tests;
