//! The shapes of small wishes over REST v1.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civicgrid_store::WishRecord;

/// A wish as a resident writes it (or a grid worker for them).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWishBody {
    /// The community (12 digits).
    pub community: String,
    /// The grid (15 digits), if known.
    #[serde(default)]
    pub grid: Option<String>,
    /// 1 to 60 characters, e.g. 想要一副老花镜.
    pub title: String,
    #[serde(default)]
    pub description: String,
}

/// A wish as the public sees it: no personal data.
#[derive(Serialize, ToSchema)]
pub struct WishView {
    /// The wish's number (also what the resident confirms with).
    pub public_id: String,
    pub community: String,
    pub grid: Option<String>,
    pub title: String,
    pub description: String,
    /// open, claimed, delivered, fulfilled or withdrawn.
    pub status: String,
    /// Gone up to the community for want of a taker.
    pub escalated: bool,
    #[schema(value_type = String)]
    pub posted_at: Timestamp,
    pub delivery_note: Option<String>,
    #[schema(value_type = Option<String>)]
    pub fulfilled_at: Option<Timestamp>,
}

impl From<&WishRecord> for WishView {
    fn from(w: &WishRecord) -> Self {
        WishView {
            public_id: w.public_id.clone(),
            community: w.region.to_string(),
            grid: w.grid.as_ref().map(|g| g.to_string()),
            title: w.title.clone(),
            description: w.description.clone(),
            status: w.status.as_str().to_owned(),
            escalated: w.escalated,
            posted_at: w.posted_at,
            delivery_note: w.delivery_note.clone(),
            fulfilled_at: w.fulfilled_at,
        }
    }
}

/// A posted wish with the secret the resident confirms it with (shown only here).
#[derive(Serialize, ToSchema)]
pub struct PostedWish {
    #[serde(flatten)]
    pub wish: WishView,
    pub secret: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WishQuery {
    /// A region code: wishes there.
    pub within: String,
    /// Only wishes of this status.
    pub status: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryBody {
    /// What was done.
    pub note: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationBody {
    /// The secret issued with the wish's number.
    pub secret: String,
    /// True: fulfilled. False: not yet, and `note` says what is missing.
    pub fulfilled: bool,
    #[serde(default)]
    pub note: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalBody {
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct WishEventView {
    #[schema(value_type = String)]
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct WishHistory {
    #[serde(flatten)]
    pub wish: WishView,
    pub claimed_by: Option<String>,
    pub events: Vec<WishEventView>,
}
