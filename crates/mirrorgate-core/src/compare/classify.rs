//! Telling real differences from noise with the control.
//!
//! The control runs production's version, so whatever differs between
//! primary and control (timestamps, random ids, ordering) differs without
//! any change of version. A mirror's difference at the same place is
//! noise. Places must be equal as text, array indices included: a field
//! that is noisy in `items[0]` says nothing about `items[1]`, and a
//! difference at `$.a` does not make the ones under it noise.

use std::collections::HashSet;

use super::{Classified, Difference, Outcome};

/// Classifies the mirror's differences (`mirror`, from comparing primary
/// and mirror) against the control's (`control`, from comparing primary
/// and control). Without a control nothing is noise. The differences
/// keep their order.
pub fn classify(
    mirror: Vec<Difference>,
    control: Option<&[Difference]>,
) -> (Outcome, Vec<Classified>) {
    let noisy: HashSet<&str> = control
        .unwrap_or_default()
        .iter()
        .map(|d| d.at.as_str())
        .collect();
    let classified: Vec<Classified> = mirror
        .into_iter()
        .map(|difference| Classified {
            noise: noisy.contains(difference.at.as_str()),
            difference,
        })
        .collect();
    let outcome = if classified.is_empty() {
        Outcome::Match
    } else if classified.iter().any(|c| !c.noise) {
        Outcome::Differ
    } else {
        Outcome::NoiseOnly
    };
    (outcome, classified)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(place: &str) -> Difference {
        Difference {
            at: place.into(),
            primary: json!(1),
            other: json!(2),
        }
    }

    fn noise(classified: &[Classified]) -> Vec<(&str, bool)> {
        classified
            .iter()
            .map(|c| (c.difference.at.as_str(), c.noise))
            .collect()
    }

    #[test]
    fn no_differences_match() {
        assert_eq!(classify(Vec::new(), None).0, Outcome::Match);
        assert_eq!(
            classify(Vec::new(), Some(&[at("json:$.t")])).0,
            Outcome::Match
        );
    }

    #[test]
    fn without_a_control_nothing_is_noise() {
        let (outcome, classified) = classify(vec![at("json:$.t")], None);
        assert_eq!(outcome, Outcome::Differ);
        assert_eq!(noise(&classified), [("json:$.t", false)]);
    }

    #[test]
    fn places_that_also_differ_on_the_control_are_noise() {
        let control = [at("json:$.t"), at("json:$.items[0].id")];
        let mirror = vec![at("json:$.t"), at("json:$.items[0].id")];
        let (outcome, classified) = classify(mirror, Some(&control));
        assert_eq!(outcome, Outcome::NoiseOnly);
        assert!(classified.iter().all(|c| c.noise));

        let mirror = vec![at("json:$.t"), at("json:$.items[1].id"), at("status")];
        let (outcome, classified) = classify(mirror, Some(&control));
        assert_eq!(outcome, Outcome::Differ);
        assert_eq!(
            noise(&classified),
            [
                ("json:$.t", true),
                ("json:$.items[1].id", false),
                ("status", false)
            ]
        );
    }
}
