//! The volunteer pages: activities, check-in by QR, the organiser's view, the certificate.
