//! The anonymity invariant (docs/sim.md §6, DESIGN "Properties" 1): on
//! every simulated circuit, no relay is a link peer of both the client and
//! the stream's destination. With three-hop circuits and exits that open
//! the stream themselves, that means: no relay appears twice on a path, the
//! relay that heard the client's CREATE is the first hop, and it is not the
//! relay where the stream leaves the network.

use crate::error::SimError;
use crate::netmodel::NodeId;

/// Checks that no relay appears twice in `path` and that, once the path
/// has two or more hops, the first and the last differ.
pub fn check_path(circuit: &str, path: &[usize]) -> Result<(), SimError> {
    for (i, r) in path.iter().enumerate() {
        if let Some(j) = path.iter().skip(i + 1).position(|o| o == r) {
            return Err(SimError::Invariant {
                circuit: circuit.to_owned(),
                problem: format!("relay {r} is hop {} and hop {}", i + 1, i + j + 2),
            });
        }
    }
    Ok(())
}

/// Checks the two ends of a circuit whose stream reached relay `exit`:
/// `observed` lists each relay that accepted one of the circuit's CREATEs
/// and the node it heard it from; the first must have heard it from
/// `client`, and none but the last may be `exit`.
pub fn check_ends(
    circuit: &str,
    observed: &[(usize, NodeId)],
    client: Option<NodeId>,
    exit: usize,
) -> Result<(), SimError> {
    let fail = |problem: String| {
        Err(SimError::Invariant {
            circuit: circuit.to_owned(),
            problem,
        })
    };
    let relays: Vec<usize> = observed.iter().map(|(r, _)| *r).collect();
    check_path(circuit, &relays)?;
    let (Some(&(first, heard_from)), Some(&(last, _))) = (observed.first(), observed.last()) else {
        return fail(format!(
            "relay {exit} opened a stream on a circuit with no hop"
        ));
    };
    if client != Some(heard_from) {
        return fail(format!(
            "relay {first}, the first hop, did not hear the client"
        ));
    }
    if relays.len() < 2 || first == exit {
        return fail(format!(
            "relay {exit} sees both the client and the destination"
        ));
    }
    if last != exit {
        return fail(format!(
            "relay {exit} opened the stream but relay {last} is the last hop"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_relay_twice_on_a_path_names_the_circuit() {
        let err = check_path("client 2, circuit 0", &[4, 7, 4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "anonymity invariant broken on client 2, circuit 0: relay 4 is hop 1 and hop 3"
        );
        check_path("c", &[1, 2, 3]).unwrap();
    }

    #[test]
    fn the_first_hop_must_not_be_the_exit() {
        let client = Some(100);
        check_ends("c", &[(1, 100), (2, 1), (3, 2)], client, 3).unwrap();
        let err = check_ends("c", &[(1, 100)], client, 1).unwrap_err();
        assert!(
            err.to_string()
                .contains("sees both the client and the destination")
        );
        assert!(check_ends("c", &[(1, 100), (2, 1)], client, 3).is_err());
        assert!(check_ends("c", &[(1, 99), (2, 1)], client, 2).is_err());
        assert!(check_ends("c", &[], client, 2).is_err());
    }
}
