//! GeoJSON grid files: reading never panics; a refused file names itself in every error; the
//! polygons of an accepted one go through the same repair the import runs, which never panics.
#![no_main]

use civicgrid::interchange::geojson::read_grid_features;
use civicgrid_domain::geometry::repair::repair;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match read_grid_features("grids.geojson", text, "code", "name") {
        Ok(features) => {
            for f in &features {
                let _ = f.label();
                let _ = repair(&f.polygons);
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(e.to_string().contains("grids.geojson"), "{e}");
            }
        }
    }
});
