// What the mobile app does for a resident, with the generated client: she signs in with the code texted to her
// phone, registers, finds a provider's published service, sees its free times and her price, books the first
// free time, and finds the booking among her own.
//
//   node dist/examples/book-a-service.js <phone> <her name> <provider id>
//
// LINLI_GATEWAY_URL says where the gateway is (default http://127.0.0.1:8000). The code she received is read
// from standard input, as she would type it; each step is written to standard output as one JSON line.
import { createInterface } from "node:readline";
import { randomUUID } from "node:crypto";

import { bearerAuth, expect, linliClient, type Schemas } from "../src/index.js";

const DISTRICT_TIMEZONE = "Asia/Shanghai";

function say(step: string, details: Record<string, unknown>): void {
  console.log(JSON.stringify({ step, ...details }));
}

/** The local date in the district `days` from now (YYYY-MM-DD). */
function districtDate(days: number): string {
  const when = new Date(Date.now() + days * 24 * 60 * 60 * 1000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: DISTRICT_TIMEZONE }).format(when);
}

async function typedCode(): Promise<string> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return line.trim();
  }
  throw new Error("no code was typed");
}

async function main(): Promise<void> {
  const [phone, name, providerId] = process.argv.slice(2);
  if (!phone || !name || !providerId) {
    throw new Error("usage: book-a-service <phone> <name> <provider id>");
  }
  const linli = linliClient(process.env.LINLI_GATEWAY_URL ?? "http://127.0.0.1:8000");
  let accessToken: string | undefined;
  linli.use(bearerAuth(() => accessToken));

  // Sign in by phone code.
  const sent = expect("sendSignInCode", await linli.POST("/api/v1/auth/otp", { body: { phone } }));
  say("code_sent", { phone: sent.phone, expires_in: sent.expires_in });
  const code = await typedCode();
  const tokens = expect(
    "signInWithCode",
    await linli.POST("/api/v1/auth/otp/verify", { body: { phone, code, consent_version: "2026-11" } }),
  );
  accessToken = tokens.access_token;

  // Register herself (once; the record is hers from then on).
  const resident = expect(
    "registerResident",
    await linli.POST("/api/v1/residents", {
      body: { name, phone, consent: { version: "2026-11", channel: "app" } },
    }),
  );
  say("registered", { resident_id: resident.id });

  // Find the provider's published service, its free times and what she would pay.
  const offerings = expect(
    "listOfferings",
    await linli.GET("/api/v1/offerings", { params: { query: { provider_id: providerId, status: "published" } } }),
  );
  const offering: Schemas["Offering"] | undefined = offerings.items[0];
  if (!offering) {
    throw new Error(`provider ${providerId} has no published service`);
  }
  const availability = expect(
    "getAvailability",
    await linli.GET("/api/v1/availability", {
      params: { query: { offering_id: offering.id, from: districtDate(2), to: districtDate(5) } },
    }),
  );
  const slot = availability.slots.find((s) => s.remaining > 0);
  if (!slot) {
    throw new Error(`${offering.name_zh} has no free time in the coming days`);
  }
  const quote = expect(
    "quoteBooking",
    await linli.GET("/api/v1/bookings/quote", {
      params: { query: { offering_id: offering.id, date: slot.start.slice(0, 10) } },
    }),
  );
  say("quoted", { service: offering.name_zh, slot_start: slot.start, price_fen: quote.resident_price_fen });

  // Book it (a retry with the same Idempotency-Key would get the same booking), then see it among her own.
  const booking = expect(
    "createBooking",
    await linli.POST("/api/v1/bookings", {
      params: { header: { "Idempotency-Key": `app-${randomUUID()}` } },
      body: { offering_id: offering.id, slot_start: slot.start, channel: "app" },
    }),
  );
  const mine = expect("listBookings", await linli.GET("/api/v1/bookings", { params: { query: { limit: 50 } } }));
  const listed = mine.items.find((b) => b.id === booking.id);
  say("booked", {
    booking_id: booking.id,
    service: offering.name_zh,
    slot_start: booking.slot_start,
    slot_end: booking.slot_end,
    status: listed?.status ?? null,
    price_fen: booking.price_fen,
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
