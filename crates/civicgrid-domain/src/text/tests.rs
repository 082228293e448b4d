use super::classifier::{Labelled, Options, TrainingSet, cross_validate, train};
use super::terms::{query_terms, terms};

fn texts(s: &str) -> Vec<String> {
    terms(s).into_iter().map(|t| t.text).collect()
}

#[test]
fn han_runs_give_characters_and_pairs_and_latin_gives_words() {
    assert_eq!(texts("漏水"), ["漏", "漏水", "水"]);
    assert_eq!(
        texts("路灯，不亮 LED灯"),
        ["路", "路灯", "灯", "不", "不亮", "亮", "led", "灯"]
    );
    // Full-width letters and digits fold to half-width, lower case.
    assert_eq!(texts("ＡＢ１号"), ["ab1", "号"]);
    assert!(texts("，。！ ").is_empty());
}

#[test]
fn query_terms_keep_pairs_and_lone_characters() {
    assert_eq!(query_terms("漏水"), ["漏水"]);
    assert_eq!(query_terms("小区 漏水"), ["小区", "漏水"]);
    assert_eq!(query_terms("水"), ["水"]);
    assert_eq!(query_terms("3号楼"), ["3", "号楼"]);
    assert_eq!(query_terms("漏水 漏水"), ["漏水"]);
}

fn example(text: &str, category: &str) -> Labelled {
    Labelled {
        text: text.into(),
        category: category.into(),
    }
}

fn toy_set() -> TrainingSet {
    TrainingSet {
        labelled: vec![
            example("路灯不亮 晚上很黑", "城乡建设"),
            example("小区路灯坏了没人修", "城乡建设"),
            example("道路破损 路面塌陷", "城乡建设"),
            example("工厂排放废气 空气污染", "环境保护"),
            example("河道污染 垃圾漂浮 发臭", "环境保护"),
            example("夜间施工噪音扰民 污染", "环境保护"),
            example("公交车改线 乘车不便", "交通运输"),
            example("出租车拒载 交通拥堵", "交通运输"),
            example("公交站台没有遮雨棚", "交通运输"),
        ],
        unlabelled: vec![
            "路灯又不亮了".into(),
            "公交车太挤".into(),
            "空气污染严重".into(),
        ],
        taxonomy: vec![
            vec!["城乡建设".into(), "市政".into(), "路灯".into()],
            vec!["环境保护".into(), "污染防治".into(), "大气污染".into()],
            vec!["交通运输".into(), "公共交通".into(), "公交".into()],
        ],
    }
}

#[test]
fn a_model_learns_categories_and_says_which_terms_weighed() {
    let model = train(&toy_set(), Options::default()).expect("trains");
    let top = model.suggest("我家门口的路灯不亮", 3);
    assert_eq!(top.len(), 3);
    assert_eq!(top[0].category, "城乡建设");
    assert!(top[0].confidence > top[1].confidence);
    let sum: f32 = model
        .suggest("我家门口的路灯不亮", 3)
        .iter()
        .map(|s| s.confidence)
        .sum();
    assert!((sum - 1.0).abs() < 1e-4, "three categories: {sum}");
    assert!(
        top[0].because.iter().any(|t| t.term == "路灯"),
        "{:?}",
        top[0].because
    );
    assert_eq!(model.predict("公交车改线").0, "交通运输");
    assert_eq!(model.predict("工厂的废气污染").0, "环境保护");
}

#[test]
fn a_stored_model_predicts_the_same() {
    let model = train(&toy_set(), Options::default()).expect("trains");
    let json = serde_json_like(&model);
    assert_eq!(json.suggest("路灯不亮", 2), model.suggest("路灯不亮", 2));
}

fn serde_json_like(model: &super::classifier::CategoryModel) -> super::classifier::CategoryModel {
    let json = serde_json::to_string(model).expect("serialises");
    serde_json::from_str(&json).expect("deserialises")
}

#[test]
fn training_refuses_what_it_cannot_learn_from() {
    let mut set = toy_set();
    set.labelled.retain(|e| e.category == "城乡建设");
    assert!(train(&set, Options::default()).is_err());
    set.labelled.clear();
    assert!(train(&set, Options::default()).is_err());
}

#[test]
fn cross_validation_scores_every_example_once() {
    let eval = cross_validate(&toy_set(), Options::default(), 3).expect("trains");
    assert_eq!(eval.examples, 9);
    assert_eq!(eval.categories.iter().map(|c| c.support).sum::<usize>(), 9);
    assert!(eval.macro_f1 > 0.5, "{eval:?}");
}

mod search {
    use super::super::search::{
        PlaceNames, document_postings, document_terms, idf, query_plan, snippet,
    };

    fn places() -> PlaceNames {
        PlaceNames::new([
            "东湖社区".to_string(),
            "东湖".into(),
            "书院路".into(),
            "x".into(),
        ])
    }

    proptest::proptest! {
        /// The index is given the same terms the postings count: every query term a
        /// document's postings hold is among its terms as often.
        #[test]
        fn document_terms_agree_with_the_postings(text in "[东湖社区漏水路灯a-z0-9，。 ]{0,40}") {
            let places = places();
            let terms = document_terms(&text, &places);
            let (postings, _) = document_postings(&text, &places);
            proptest::prop_assert_eq!(postings.iter().map(|(_, n)| *n as usize).sum::<usize>(), terms.len());
            for (term, n) in &postings {
                proptest::prop_assert_eq!(terms.iter().filter(|t| *t == term).count(), *n as usize);
            }
            for term in query_plan(&text, &places) {
                proptest::prop_assert!(terms.contains(&term), "{} not among the terms of {}", term, text);
            }
        }
    }

    #[test]
    fn documents_hold_pairs_and_whole_place_names() {
        let (postings, length) = document_postings("东湖社区3栋楼顶漏水，漏水严重", &places());
        let hits = |t: &str| postings.iter().find(|(p, _)| p == t).map(|(_, n)| *n);
        assert_eq!(hits("漏水"), Some(2));
        assert_eq!(hits("东湖社区"), Some(1));
        assert_eq!(hits("东湖"), Some(1));
        assert_eq!(hits("书院路"), None);
        assert_eq!(
            length,
            postings
                .iter()
                .filter(|(t, _)| t != "东湖社区")
                .map(|(_, n)| u64::from(*n))
                .sum::<u64>()
        );
    }

    #[test]
    fn a_query_asks_for_place_names_whole_and_the_rest_by_pairs() {
        assert_eq!(query_plan("东湖社区 漏水", &places()), ["东湖社区", "漏水"]);
        assert_eq!(
            query_plan("书院路路灯不亮", &places()),
            ["书院路", "路灯", "灯不", "不亮"]
        );
        assert_eq!(query_plan("，，", &places()), Vec::<String>::new());
    }

    #[test]
    fn rarer_terms_weigh_more() {
        assert!(idf(1000, 1) > idf(1000, 100));
        assert!(idf(1000, 1000) > 0.0);
    }

    #[test]
    fn a_snippet_shows_where_the_query_occurs() {
        let text = format!("{}楼顶漏水很严重{}", "前".repeat(100), "后".repeat(100));
        let (piece, marks) = snippet(&text, "漏水", 30);
        assert!(piece.contains("漏水") && piece.starts_with('…') && piece.ends_with('…'));
        assert_eq!(marks, ["漏水"]);
        let (_, marks) = snippet("路灯不亮", "路灯坏了", 30);
        assert_eq!(marks, ["路灯"]);
    }
}

mod similar {
    use std::collections::HashMap;

    use super::super::search::{PlaceNames, document_postings};
    use super::super::similar::{cosine, likeness, weighted};

    fn vector(text: &str) -> HashMap<String, f64> {
        let (postings, _) = document_postings(text, &PlaceNames::default());
        weighted(&postings, &HashMap::new())
    }

    #[test]
    fn the_same_words_are_alike_and_others_are_not() {
        let a = vector("小区门口井盖丢失，晚上很危险");
        let (same, shared) = cosine(
            &a,
            &vector("（另一位居民反映）小区门口井盖丢失，晚上很危险"),
        );
        assert!(same > 0.8, "{same}");
        assert!(shared.contains(&"井盖".to_string()), "{shared:?}");
        let (other, _) = cosine(&a, &vector("公交车改线乘车不便"));
        assert!(other < 0.2, "{other}");
        let (itself, _) = cosine(&a, &a);
        assert!((itself - 1.0).abs() < 1e-9);
    }

    #[test]
    fn nearer_and_sooner_score_higher_and_the_parts_are_kept() {
        let near = likeness(0.5, vec![], Some(10.0), 1.0);
        let far = likeness(0.5, vec![], Some(2000.0), 1.0);
        let later = likeness(0.5, vec![], Some(10.0), 500.0);
        let unplaced = likeness(0.5, vec![], None, 1.0);
        assert!(near.score > far.score && near.score > later.score && far.score > unplaced.score);
        assert!(near.score <= 1.0 && unplaced.score >= 0.0);
        assert_eq!(likeness(0.5, vec![], None, -3.0).hours, 3.0);
    }
}

mod hotspots {
    use std::collections::HashMap;

    use jiff::Timestamp;

    use super::super::hotspots::{HotspotCase, HotspotRules, Trend, hotspots};
    use super::super::search::{PlaceNames, document_postings};
    use super::super::similar::weighted;

    fn case(
        n: u128,
        text: &str,
        at: &str,
        location: Option<(f64, f64)>,
        grid: &str,
    ) -> HotspotCase {
        let (postings, _) = document_postings(text, &PlaceNames::default());
        HotspotCase {
            id: uuid::Uuid::from_u128(n),
            grid: Some(grid.into()),
            location,
            at: at.parse().expect("instant"),
            terms: weighted(&postings, &HashMap::new()),
        }
    }

    #[test]
    fn one_matter_in_one_place_is_a_hotspot_and_others_are_not() {
        let site = (113.9171, 22.5168);
        let cases = vec![
            case(
                1,
                "工地夜间施工噪音扰民",
                "2026-11-02T10:00:00Z",
                Some(site),
                "g1",
            ),
            case(
                2,
                "工地晚上施工噪音很大",
                "2026-11-20T10:00:00Z",
                Some((site.0 + 0.001, site.1)),
                "g1",
            ),
            case(
                3,
                "工地施工噪音扰民睡不着",
                "2026-11-25T10:00:00Z",
                Some((site.0, site.1 + 0.001)),
                "g2",
            ),
            // In the grid without a place: it joins.
            case(4, "夜间施工噪音扰民", "2026-11-28T10:00:00Z", None, "g1"),
            // The same words far away, and other words nearby: not part of it.
            case(
                5,
                "工地夜间施工噪音扰民",
                "2026-11-03T10:00:00Z",
                Some((site.0 + 0.2, site.1)),
                "g9",
            ),
            case(6, "路灯不亮", "2026-11-04T10:00:00Z", Some(site), "g1"),
        ];
        let from: Timestamp = "2026-11-01T00:00:00Z".parse().expect("from");
        let to: Timestamp = "2026-12-01T00:00:00Z".parse().expect("to");
        let found = hotspots(&cases, HotspotRules::default(), from, to);
        assert_eq!(found.len(), 1, "{found:?}");
        let h = &found[0];
        assert_eq!(
            h.cases,
            (1..=4).map(uuid::Uuid::from_u128).collect::<Vec<_>>()
        );
        assert_eq!(h.grids, ["g1", "g2"]);
        assert!(
            h.label.iter().any(|t| t == "噪音" || t == "施工"),
            "{:?}",
            h.label
        );
        assert_eq!(h.halves, (1, 3));
        assert_eq!(h.trend, Trend::Rising);
        assert!(h.span_m > 100.0 && h.span_m < 500.0, "{}", h.span_m);
        assert!(h.mean_text >= 0.25);
        // Fewer than the minimum is no hotspot.
        let strict = HotspotRules {
            min_cases: 5,
            ..HotspotRules::default()
        };
        assert!(hotspots(&cases, strict, from, to).is_empty());
        assert!(hotspots(&[], HotspotRules::default(), from, to).is_empty());
    }
}

#[test]
fn a_stored_model_that_does_not_add_up_is_refused() {
    let model = train(&toy_set(), Options::default()).expect("trains");
    let mut json: serde_json::Value = serde_json::to_value(&model).expect("serialises");
    json["idf"].as_array_mut().expect("idf").pop();
    let e = serde_json::from_value::<super::classifier::CategoryModel>(json).expect_err("short");
    assert!(e.to_string().contains("term weights"), "{e}");
    let mut json: serde_json::Value = serde_json::to_value(&model).expect("serialises");
    json["weights"][1].as_array_mut().expect("row").clear();
    assert!(serde_json::from_value::<super::classifier::CategoryModel>(json).is_err());
    let mut json: serde_json::Value = serde_json::to_value(&model).expect("serialises");
    json["format"] = 7.into();
    assert!(serde_json::from_value::<super::classifier::CategoryModel>(json).is_err());
}
