-- icmp-lab: a guided walk through the ICMP messages the lab can produce, field by field.
--
-- usage: echolot run icmp-lab [HOST]
--   HOST  the destination host (default: the lab's server); IPv4
--
-- Provokes each message with a probe made for it, shows the answer's
-- type, code and the fields that matter, the probe quoted inside an
-- error, and explains what each one means and who sent it:
--   echo reply · time exceeded · port unreachable · protocol unreachable
--   fragmentation needed · parameter problem · network unreachable
--   host unreachable · and the IPv6 counterparts when the lab has IPv6.
-- Made for the lab (echolot lab run icmp-lab): other networks filter
-- many of these, and a missing answer is shown as such.
-- Exit status: 0 when at least one message came back, 1 when none did,
-- 2 on bad arguments.

if arg[2] then usage("too many arguments") end
local dst = target(arg[1], "4") -- the IPv6 steps use the lab's server

-- an address in the destination's /24 that nobody has, and one in a
-- network no router knows
local a1, a2, a3 = string.match(dst, "^(%d+)%.(%d+)%.(%d+)%.%d+$")
local nobody = string.format("%s.%s.%s.250", a1, a2, a3)
local nowhere = "198.19.254.1"

local steps = {
  {title="Echo reply (type 0)", probe=ip{dst=dst} / icmp{} / raw(pattern.ramp(56)),
   text={"The destination answers an echo request (type 8) with an echo reply: same identifier,",
         "sequence number and data. This is ping. The reply's TTL tells how far away it is:",
         "Linux starts at 64, so 64 minus the TTL seen is the number of routers on the way back."}},
  {title="Time exceeded (type 11, code 0)", probe=ip{dst=dst, ttl=1} / icmp{},
   text={"A router that would forward a datagram whose TTL reaches 0 drops it and sends this.",
         "It quotes the IP header and the first bytes of the dropped datagram, as it saw them:",
         "this is how traceroute finds each hop (TTL 1, 2, 3 ...)."}},
  {title="Port unreachable (type 3, code 3)", probe=ip{dst=dst} / udp{dport=33434},
   text={"The destination host got a UDP datagram for a port nobody listens on. It is the",
         "host that answers, not a router: UDP traceroute stops when it sees this."}},
  {title="Protocol unreachable (type 3, code 2)", probe=ip{dst=dst, proto=253} / raw("experiment"),
   text={"The destination host has no handler for the IP protocol number (253 is reserved for",
         "experiments, RFC 3692)."}},
  {title="Fragmentation needed (type 3, code 4)", probe=ip{dst=dst, df=true} / icmp{} / raw(pattern.ramp(1472)),
   text={"A router must forward a datagram larger than its next link's MTU, and Don't Fragment",
         "is set: it drops it and says the MTU of that link (RFC 1191). This is path MTU",
         "discovery; if these messages are filtered the path has a black hole (echolot run pmtu)."}},
  {title="Network unreachable (type 3, code 0)", probe=ip{dst=nowhere} / icmp{}, retries=3,
   text={"A router has no route to the destination network (" .. nowhere .. ") and says so.",
         "Linux sends at most 5 of these in a burst, then one a second per sender (the host-wide",
         "sysctls net.ipv4.route.error_burst and error_cost, which a namespace cannot change):",
         "a traceroute through a black-holed prefix sees stars, not a missing route."}},
  {title="Parameter problem (type 12)", probe=ip{dst=dst, options={opt.raw(string.char(7, 2, 4, 0))}} / icmp{},
   text={"Something in the header cannot be processed: here a record-route option whose length",
         "(2) is too short to hold its pointer. The pointer field gives the offset of the bad",
         "octet in the quoted header (20 is the first option byte, 21 its length)."}},
  {title="Host unreachable (type 3, code 1)", probe=ip{dst=nobody} / icmp{}, timeout=5,
   text={"The last router has a route to the network but nobody answers its ARP request for",
         nobody .. ": after about 3 seconds of asking it gives up and sends this."}},
}
if lab and lab.server and lab.server.ip6 then
  local d6 = lab.server.ip6
  steps[#steps + 1] = {title="IPv6: hop limit exceeded (ICMPv6 type 3)", probe=ip6{dst=d6, hlim=1} / icmp6{},
    text={"The IPv6 time exceeded: the hop limit plays the TTL's part."}}
  steps[#steps + 1] = {title="IPv6: packet too big (ICMPv6 type 2)", probe=ip6{dst=d6} / icmp6{} / raw(pattern.ramp(1452)),
    text={"IPv6 routers never fragment: a datagram too big for the next link is always dropped and",
          "answered with packet-too-big and the MTU (RFC 8201). There is no DF bit to clear."}}
  steps[#steps + 1] = {title="IPv6: port unreachable (ICMPv6 type 1, code 4)", probe=ip6{dst=d6} / udp{dport=33434},
    text={"The same as in IPv4, with type 1 (destination unreachable) and code 4."}}
end

printf("ICMP LAB towards %s: %d messages to provoke\n", whois(dst), #steps)
local got, rows = 0, {}
for i, s in ipairs(steps) do
  print()
  printf("%d. %s\n", i, s.title)
  printf("   sent:     %s\n", tostring(s.probe))
  local a = sr1(s.probe, {timeout=s.timeout or 1, retries=s.retries or 0})
  if not a then
    print("   answer:   none within the timeout (filtered, rate-limited, or not produced here)")
    rows[#rows + 1] = {i, s.title, "-", "-"}
  else
    got = got + 1
    local ic = a.packet and (a.packet.icmp or a.packet.icmp6)
    printf("   answer:   %s from %s, type %s code %s, rtt %.3f ms\n", a.kind, whois(a.from),
      ic and ic.type or "?", ic and ic.code or "?", a.rtt)
    if a.mtu then printf("   mtu:      %d (the next link's MTU, from the message)\n", a.mtu) end
    if ic and ic.pointer then printf("   pointer:  %d (offset of the offending octet in the quoted header)\n", ic.pointer) end
    if a.quote then printf("   quoted:   %s\n", tostring(a.quote)) end
    if a.changes then
      local ch = {}
      for _, c in pairs(a.changes) do ch[#ch + 1] = tostring(c) end
      table.sort(ch)
      if #ch > 0 then printf("   changed:  %s (quote against what was sent)\n", table.concat(ch, "; ")) end
    end
    rows[#rows + 1] = {i, s.title, a.kind, whois(a.from)}
  end
  for _, l in ipairs(s.text) do print("   " .. l) end
end

print()
print("Summary:")
local w = {0, 0, 0}
for _, r in ipairs(rows) do
  for j = 2, 4 do if #tostring(r[j]) > (w[j - 1]) then w[j - 1] = #tostring(r[j]) end end
end
for _, r in ipairs(rows) do
  printf("  %2d  %s  %s  %s\n", r[1], r[2] .. string.rep(" ", w[1] - #r[2]), r[3] .. string.rep(" ", w[2] - #r[3]), r[4])
end
print()
printf("RESULT: %d of %d messages provoked.\n", got, #steps)
exit(got > 0 and 0 or 1)
