//! The small-wish pages: the community board, posting a wish, its receipt and confirmation.
