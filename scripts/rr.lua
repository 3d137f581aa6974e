-- rr: record route — the addresses a round trip collects, and why ping -R shows one more.
--
-- usage: echolot run rr [HOST] [SLOTS]
--   HOST   the destination (default: the lab's server); IPv4 only
--   SLOTS  record-route slots, 1-9 (default 9, the most an IPv4 header holds)
--
-- Sends an ICMP echo request carrying the IPv4 Record Route option
-- (RFC 791) twice: once with the option as echolot builds it (all slots
-- empty), once as the sending kernel builds it for ping -R (its own
-- address already in the first slot: opt.rr(9, {prefill=true})). Every
-- router writes the address of the interface it forwards the packet out
-- of; the destination copies the option into its echo reply, and the
-- routers on the way back keep writing, until the slots run out.
-- A quick TTL trace names the router behind each outgoing address.
-- Then the same with 2 slots, to show what running out looks like:
-- record route has no overflow counter, so the rest of the path is
-- simply not there.
-- When the reply comes back without the option, TTL-limited probes find
-- the hop that strips it: each router's time-exceeded quotes the probe as
-- it arrived, options included.
-- Exit status: 0 when the route was recorded, 1 when no reply came back
-- (many networks drop packets with IP options) or it came back without
-- the option, 2 on bad arguments.

local dst = target(arg[1], "4") -- record route is an IPv4 option
local slots = tonumber(arg[2] or 9)
if not slots or slots ~= math.floor(slots) or slots < 1 or slots > 9 then
  usage("SLOTS " .. tostring(arg[2]) .. " is out of range, the limit is 1-9 (9 slots fill the 40 option bytes)")
end

-- The forward hops by TTL, to name the outgoing addresses RR records.
local hops = {}
for ttl = 1, 16 do
  local a = sr1(ip{dst=dst, ttl=ttl} / icmp{}, {timeout=1, retries=1})
  if not a or a.kind ~= "time-exceeded" then break end
  hops[ttl] = a.from
end

-- Sends one probe with opt; returns the reply's recorded route, the
-- option as it came back and our own address.
local function record(o)
  local a = sr1(ip{dst=dst, options={o}} / icmp{} / raw(pattern.ramp(56)), {timeout=1, retries=2})
  if not a then return nil end
  local rr = a.packet.ip.rr or {}
  local back
  for _, x in ipairs(a.packet.ip.options) do if x.name == "rr" then back = x end end
  return rr, back, a.probe.ip.src, a
end

-- One row per recorded address, saying who wrote it and on which leg.
local function annotate(rr, src, prefilled)
  local first_dst, last_dst
  for i, x in ipairs(rr) do
    if x == dst then
      first_dst = first_dst or i
      last_dst = i
    end
  end
  local rows = {}
  local fwd = 0
  for i, x in ipairs(rr) do
    local leg, note
    if prefilled and i == 1 and x == src then
      leg, note = "sender", "this host: its kernel wrote the first slot when it built the option"
    elseif first_dst and i >= first_dst and i <= last_dst then
      leg, note = "destination", i == first_dst and "the destination, on receipt" or "the destination, sending the reply"
    elseif not first_dst or i < first_dst then
      fwd = fwd + 1
      local h = hops[fwd]
      leg = "out"
      note = h and string.format("hop %d leaving towards %s (traceroute sees it as %s)", fwd, dst, whois(h))
        or string.format("hop %d leaving towards %s", fwd, dst)
    elseif x == src and i == #rr then
      leg, note = "back", "this host, on receipt of the reply"
    else
      leg, note = "back", "a router forwarding the reply to us"
    end
    rows[#rows + 1] = {i, x, nodename(x) or "", leg, note}
  end
  return rows
end

printf("RR %s: ICMP echo with the record route option, %d slots\n", whois(dst), slots)
local self, opt_self, src = record(opt.rr(slots))
if not self then
  printf("no reply to an echo request with record route: %s (or a router on the way) drops IPv4 options.\n", dst)
  exit(1)
end
if not opt_self then
  -- The reply came back, without the option: find where it went missing.
  -- A router quotes a TTL-limited probe as it arrived, options and all.
  printf("The echo reply from %s came back WITHOUT the record-route option.\n", dst)
  print("Where did it go? Probes with the option and TTL 1, 2, ...; each router's quote shows")
  print("whether the option was still there when the probe reached it:")
  local qrows, lost_at, last_with = {}, nil, nil
  for ttl = 1, #hops + 1 do
    local a = sr1(ip{dst=dst, ttl=ttl, options={opt.rr(slots)}} / icmp{}, {timeout=1, retries=1})
    if not a then break end
    local has = false
    if a.quote then
      for _, o in ipairs(a.quote.ip.options) do if o.name == "rr" then has = true end end
    end
    local state = a.kind ~= "time-exceeded" and "(the destination: reply without the option)"
      or has and "option present" or "option GONE"
    qrows[#qrows + 1] = {ttl, whois(a.from), a.kind, state}
    if a.kind ~= "time-exceeded" then break end
    if has then last_with = {ttl=ttl, from=a.from} elseif not lost_at then lost_at = {ttl=ttl, from=a.from} end
  end
  printtable({"TTL", "FROM", "ANSWER", "RECORD ROUTE IN THE QUOTE"}, qrows)
  print()
  if lost_at then
    printf("RESULT: IP options are stripped on the way out, between %s and hop %d, %s.\n",
      last_with and string.format("hop %d, %s,", last_with.ttl, whois(last_with.from)) or "this host",
      lost_at.ttl, whois(lost_at.from))
  else
    printf("RESULT: every router saw the option; %s, or a hop on the way back, removes it from the reply.\n", dst)
  end
  exit(1)
end
local kern, opt_kern = record(opt.rr(slots, {prefill=true}))

print()
printf("1. Header built by echolot, slots empty (opt.rr(%d)): %d addresses%s\n", slots, #self,
  opt_self and opt_self.full and ", slots FULL" or "")
printtable({"#", "ADDRESS", "NODE", "LEG", "WHO WROTE IT"}, annotate(self, src, false))
if kern then
  print()
  printf("2. Header as the kernel builds it for ping -R (opt.rr(%d, {prefill=true})): %d addresses%s\n", slots, #kern,
    opt_kern and opt_kern.full and ", slots FULL" or "")
  printtable({"#", "ADDRESS", "NODE", "LEG", "WHO WROTE IT"}, annotate(kern, src, true))
end

-- Overflow: too few slots.
local small = math.min(2, slots)
local few, opt_few = record(opt.rr(small))
print()
if few then
  printf("3. Only %d slots (opt.rr(%d)): %d addresses, full=%s\n", small, small, #few, tostring(opt_few and opt_few.full))
  printtable({"#", "ADDRESS", "NODE", "LEG", "WHO WROTE IT"}, annotate(few, src, false))
  print("   Record route has no overflow counter (the timestamp option has one, see `echolot run ts`):")
  print("   once the slots are full, routers forward the packet unchanged, and the rest of the path")
  print("   is simply missing. 9 slots are the most the 40 option bytes hold: longer round trips")
  print("   are always cut short, usually on the way back.")
end

print()
print("Why the two headers record a different number of hops:")
print("  The kernel writes the sender's own address into the first slot when it builds the option")
print("  for a socket (IP_OPTIONS, as ping -R does). A header built by echolot goes out as built,")
print("  so the sending host records nothing and the slot stays free for one more hop.")
print("  Routers write the address they forward out of; a Linux host also writes its own address")
print("  when it receives the packet (that is why the destination and this host appear).")
print()
local out, back = {}, {}
for _, r in ipairs(annotate(self, src, false)) do
  if r[4] == "out" then out[#out + 1] = r[2] elseif r[4] == "back" and r[2] ~= src then back[#back + 1] = r[2] end
end
printf("RESULT: to %s via %s; back via %s; %d addresses self-built, %s kernel-built.\n", dst,
  #out > 0 and table.concat(out, ", ") or "(none recorded)", #back > 0 and table.concat(back, ", ") or "(none recorded)",
  #self, kern and tostring(#kern) or "?")
exit(0)
