// BerthNetwork: container networks. CNI plugins (Debian's containernetworking-plugins) wire a
// container's network namespace to a Linux bridge; Berth's own firewall chains isolate networks
// and publish ports; a small DNS server per user network answers container names.
