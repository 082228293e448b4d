//! The household-contact pages: the phone view of a member's households.
