// Reads an iCalendar feed on stdin and prints its events as JSON, as Mozilla's ical.js
// (Thunderbird's parser) understands them: UID, start and end as UTC ISO strings, and,
// for a recurring event, every occurrence up to --until (an ISO instant).
import ICAL from "ical.js";

function utc(time) {
  // toJSDate() applies the zone the parser resolved for the TZID (the feed's VTIMEZONE).
  return time.toJSDate().toISOString();
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

const untilArg = process.argv.find((a) => a.startsWith("--until="));
const until = untilArg ? ICAL.Time.fromJSDate(new Date(untilArg.slice(8)), true) : null;
const maxOccurrences = 1000;

const calendar = new ICAL.Component(ICAL.parse(await readStdin()));
const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  const out = {
    uid: event.uid,
    summary: event.summary,
    start: utc(event.startDate),
    end: utc(event.endDate),
    tzid: event.startDate.zone ? event.startDate.zone.tzid : null,
    // True when the TZID was resolved from the feed's own VTIMEZONE (not floating).
    zoneFromFeed: Boolean(event.startDate.zone && event.startDate.zone.component),
    sequence: event.sequence,
    status: vevent.getFirstPropertyValue("status"),
  };
  if (event.isRecurring()) {
    const occurrences = [];
    const it = event.iterator();
    for (let next = it.next(); next; next = it.next()) {
      if (until && next.compare(until) > 0) break;
      const details = event.getOccurrenceDetails(next);
      occurrences.push({ start: utc(details.startDate), end: utc(details.endDate) });
      if (occurrences.length >= maxOccurrences) break;
    }
    out.occurrences = occurrences;
  }
  return out;
});
process.stdout.write(JSON.stringify({ events }));
