//! `-p [HOSTIP:]HOSTPORT[-END]:PORT[-END][/PROTO]`, parsed like `docker run -p`.
//!
//! Contract: [`parse_publish`] follows go-connections' `nat.ParsePortSpec` (same accepted forms
//! and error texts) and yields one [`PortBinding`] per flag. Ranges are inclusive; a single port
//! has `end == start`; no host port is `0`/`0` (the daemon picks one); a host range with a
//! single container port means "any free port of that range"; equal-size ranges map 1:1.

use std::net::IpAddr;
use std::str::FromStr;

use cnm_types::sandbox::PortBinding;

/// docker's `splitParts`: `ip`, `host port`, `container port[/proto]`.
fn split_parts(raw: &str) -> (String, String, String) {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1].to_string();
    match n {
        1 => (String::new(), String::new(), container),
        2 => (String::new(), parts[0].to_string(), container),
        3 => (parts[0].to_string(), parts[1].to_string(), container),
        _ => (
            parts[..n - 2].join(":"),
            parts[n - 2].to_string(),
            container,
        ),
    }
}

/// docker's `SplitProtoPort`: `(proto, port)`, proto defaulting to `tcp`.
fn split_proto_port(raw: &str) -> (String, String) {
    let parts: Vec<&str> = raw.split('/').collect();
    if raw.is_empty() || parts[0].is_empty() {
        return (String::new(), String::new());
    }
    if parts.len() == 1 || parts[1].is_empty() {
        return ("tcp".into(), parts[0].into());
    }
    (parts[1].into(), parts[0].into())
}

/// docker's `ParsePortRange`: `80` or `8000-8010`.
fn parse_range(ports: &str) -> Result<(u16, u16), String> {
    if ports.is_empty() {
        return Err("empty string specified for ports".into());
    }
    let port = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("strconv.ParseUint: parsing \"{s}\": invalid syntax"))
    };
    match ports.split_once('-') {
        None => {
            let p = port(ports)?;
            Ok((p, p))
        }
        Some((start, end)) => {
            let (start, end) = (port(start)?, port(end)?);
            if end < start {
                return Err(format!("invalid range specified for port: {ports}"));
            }
            Ok((start, end))
        }
    }
}

/// Parses one `-p` value.
pub fn parse_publish(raw: &str) -> Result<PortBinding, String> {
    let (mut ip, host, container) = split_parts(raw);
    let (proto, container) = split_proto_port(&container);
    if ip.starts_with('[') {
        ip = ip
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .map(str::to_string)
            .ok_or_else(|| format!("invalid IP address {ip}: missing ']' in address"))?;
    }
    if !ip.is_empty() && IpAddr::from_str(&ip).is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let (start, end) =
        parse_range(&container).map_err(|_| format!("invalid containerPort: {container}"))?;
    let (host_start, host_end) = if host.is_empty() {
        (0, 0)
    } else {
        let (hs, he) = parse_range(&host).map_err(|_| format!("invalid hostPort: {host}"))?;
        if end - start != he - hs && end != start {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {container} and {host}"
            ));
        }
        (hs, he)
    };
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    Ok(PortBinding {
        proto,
        container_port: start,
        container_port_end: end,
        host_ip: ip,
        host_port: host_start,
        host_port_end: host_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(proto: &str, c: (u16, u16), ip: &str, h: (u16, u16)) -> PortBinding {
        PortBinding {
            proto: proto.into(),
            container_port: c.0,
            container_port_end: c.1,
            host_ip: ip.into(),
            host_port: h.0,
            host_port_end: h.1,
        }
    }

    #[test]
    fn accepts_docker_forms() {
        assert_eq!(
            parse_publish("8080:80").unwrap(),
            b("tcp", (80, 80), "", (8080, 8080))
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80/udp").unwrap(),
            b("udp", (80, 80), "127.0.0.1", (8080, 8080))
        );
        assert_eq!(
            parse_publish("8000-8010:8000-8010").unwrap(),
            b("tcp", (8000, 8010), "", (8000, 8010))
        );
        assert_eq!(
            parse_publish("8000-8010:80").unwrap(),
            b("tcp", (80, 80), "", (8000, 8010))
        );
        assert_eq!(parse_publish("80").unwrap(), b("tcp", (80, 80), "", (0, 0)));
        assert_eq!(
            parse_publish("[::1]:53:53/SCTP").unwrap(),
            b("sctp", (53, 53), "::1", (53, 53))
        );
        assert_eq!(
            parse_publish("::1:53:53").unwrap(),
            b("tcp", (53, 53), "::1", (53, 53))
        );
        assert_eq!(
            parse_publish("0.0.0.0::80").unwrap(),
            b("tcp", (80, 80), "0.0.0.0", (0, 0))
        );
    }

    #[test]
    fn rejects_with_docker_messages() {
        let err = |s: &str| parse_publish(s).unwrap_err();
        assert_eq!(err("foo"), "invalid containerPort: foo");
        assert_eq!(err("x:80"), "invalid hostPort: x");
        assert_eq!(err("1.2.3:80:80"), "invalid IP address: 1.2.3");
        assert_eq!(err("8080:"), "no port specified: 8080:<empty>");
        assert_eq!(err("80/icmp"), "invalid proto: icmp");
        assert_eq!(
            err("1-3:5-6"),
            "invalid ranges specified for container and host Ports: 5-6 and 1-3"
        );
        assert_eq!(err("70000"), "invalid containerPort: 70000");
        assert_eq!(err("90-80"), "invalid containerPort: 90-80");
    }
}
