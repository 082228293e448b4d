//! The party-building pages: organisations, alliances, members and home-community
//! registrations (`/party`).
