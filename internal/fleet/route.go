package fleet

import "strings"

// Hosts returns the hosts a Traefik HTTP rule matches unconditionally: those of the
// Host matchers among its top-level alternatives. A rule such as
// "Host(`a`) && PathPrefix(`/x`)" matches only part of a host's traffic and yields none,
// so the verifier never counts a partial route as a route.
func Hosts(rule string) []string { return matched(rule, "Host") }

// HostSNIs returns the server names a Traefik TCP rule matches unconditionally, as
// Hosts does for HTTP: those of its top-level HostSNI matchers, "*" for the one that
// matches every connection.
func HostSNIs(rule string) []string { return matched(rule, "HostSNI") }

// matched returns the arguments of the matchers named matcher among the top-level
// alternatives of rule, lower-cased.
func matched(rule, matcher string) []string {
	rule = strings.TrimSpace(rule)
	for strings.HasPrefix(rule, "(") && strings.HasSuffix(rule, ")") && balanced(rule[1:len(rule)-1]) {
		rule = strings.TrimSpace(rule[1 : len(rule)-1])
	}
	if alternatives := splitTopLevel(rule, "||"); len(alternatives) > 1 {
		var names []string
		for _, alternative := range alternatives {
			names = append(names, matched(alternative, matcher)...)
		}
		return names
	}
	if !strings.HasPrefix(rule, matcher+"(") || !strings.HasSuffix(rule, ")") {
		return nil
	}
	args := rule[len(matcher)+1 : len(rule)-1]
	if strings.ContainsAny(args, "()|&!") {
		return nil
	}
	// Traefik v2 accepted Host(`a`, `b`); v3 takes one name per matcher.
	var names []string
	for _, arg := range strings.Split(args, ",") {
		arg = strings.TrimSpace(arg)
		if len(arg) >= 2 && (arg[0] == '`' || arg[0] == '"') && arg[len(arg)-1] == arg[0] {
			names = append(names, strings.ToLower(arg[1:len(arg)-1]))
		}
	}
	return names
}

// splitTopLevel splits s at sep where sep is outside parentheses and quotes.
func splitTopLevel(s, sep string) []string {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '`' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], sep):
			parts = append(parts, s[start:i])
			start = i + len(sep)
			i += len(sep) - 1
		}
	}
	return append(parts, s[start:])
}

func balanced(s string) bool {
	depth := 0
	for _, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

// InClusterHosts returns the names a client inside a cluster may use for Service name in
// namespace: the short name, name.namespace, name.namespace.svc and the full name.
func InClusterHosts(name, namespace string) []string {
	return []string{
		name,
		name + "." + namespace,
		name + "." + namespace + ".svc",
		name + "." + namespace + ".svc.cluster.local",
	}
}
