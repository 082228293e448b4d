//! The CSV (and TOML) imports: never panic; a refused file gets errors that name it.
#![no_main]

use civicgrid::error::InputError;
use civicgrid::interchange::{catalogue, config, tables};
use libfuzzer_sys::fuzz_target;

fn named(file: &str, errors: Vec<InputError>) {
    assert!(!errors.is_empty());
    for e in &errors {
        assert!(e.to_string().contains(file), "{e}");
    }
}

fuzz_target!(|input: (u8, &str)| {
    let (which, text) = input;
    match which % 7 {
        0 => tables::read_regions("regions.csv", text)
            .err()
            .map(|e| named("regions.csv", e)),
        1 => tables::read_units("units.csv", text)
            .err()
            .map(|e| named("units.csv", e)),
        2 => tables::read_rules("rules.csv", text)
            .err()
            .map(|e| named("rules.csv", e)),
        3 => tables::read_beats("beats.csv", text)
            .err()
            .map(|e| named("beats.csv", e)),
        4 => catalogue::read_csv("catalogue.csv", text)
            .err()
            .map(|e| named("catalogue.csv", e)),
        5 => config::read_calendar("calendar.toml", text)
            .err()
            .map(|e| named("calendar.toml", e)),
        _ => config::read_roles("roles.toml", text)
            .err()
            .map(|e| named("roles.toml", e)),
    };
});
