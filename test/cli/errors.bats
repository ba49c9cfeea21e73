#!/usr/bin/env bats
# Bad settings are named: the part of a transport that is wrong, a group
# name that cannot be one, a key file that is not a file.

load helper

# bad_t SPEC MESSAGE: torecv -t SPEC exits 64 saying MESSAGE.
bad_t() {
	run -64 --separate-stderr timeout 10 torecv -g g -t "$1" -T 1
	[ "$stderr" = "torecv: -t $1: $2" ]
}

@test "-t: a bad port, parameter or value is named" {
	bad_t udp://239.1.2.3:99999 "port 99999: too large, expected 1 to 65535"
	bad_t 'udp://239.1.2.3?ttl=0' "ttl=0: too small, expected 1 to 255"
	bad_t 'udp://?bogus=1' "unknown parameter bogus, expected ttl, mtu or buf (the port goes after the address)"
	bad_t 'udp://?buf=64k&buf=1m' "buf given twice"
	bad_t 'udp://?mtu=1091' "mtu=1091: too small, expected 1092 to 65000 bytes"
	bad_t 'udp://239.1.2.3:' "a ':' without a port, expected 1 to 65535"
}

@test "-t: a unicast address for udp://, a multicast one for udpu://" {
	bad_t udp://10.1.2.3 "10.1.2.3: not an IPv4 multicast address (224.0.0.0 to 239.255.255.255); for unicast peers use udpu://"
	bad_t udpu://10.1.2.3,239.1.1.1 "host 239.1.1.1: not a unicast address; for multicast use udp://"
}

@test "-t: a host that does not resolve is named" {
	run -64 --separate-stderr timeout 20 torecv -g g \
	    -t udpu://nosuchhost.invalid -T 1
	[[ "$stderr" == "torecv: -t udpu://nosuchhost.invalid: host nosuchhost.invalid: "* ]]
}

@test "-t: the least mtu the page names is taken" {
	run -69 --separate-stderr timeout 10 torecv -g "$(group)" \
	    -t 'udp://239.1.2.3?mtu=1092' -T 0.5
	[ "$stderr" = "torecv: timed out waiting for 1 message (have 0)" ]
}

@test "-g . and -g .. are refused as names" {
	run -64 --separate-stderr torecv -g .
	[ "$stderr" = "torecv: -g .: invalid group name, . and .. are not names" ]
	run -64 --separate-stderr tocast -g ..
	[ "$stderr" = "tocast: -g ..: invalid group name, . and .. are not names" ]
}

@test "-k /dev/null: not a regular file, and no chmod advice" {
	run -64 --separate-stderr torecv -g g -k /dev/null
	[ "$stderr" = "torecv: -k /dev/null: not a regular file, expected a file of at least 32 random bytes" ]
}
