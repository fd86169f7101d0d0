// Package accounts owns who may do what: users and their credentials
// (argon2id passwords, JWT access tokens, rotating refresh tokens with reuse
// detection, email verification and password reset through one-time
// tokens, TOTP two-factor with backup codes), sessions, organizations and
// their members, the apps people own (metadata, sharing, soft deletion,
// versions, forks, export/import) and the audit log.
//
// The Service is the domain: it decides and records, and reaches app
// documents only through rooms (Room.Do), so every server-side change is
// stored before it is acknowledged and reaches live collaborators. Its
// Authorizer implements collab.Authorizer, so the sync socket enforces the
// same permissions as the REST API (package accounts/api).
//
// Persistence is the Store interface, implemented by accounts/embedded
// (bbolt, <data-dir>/accounts.db) and accounts/postgres (tables in the
// document store's database, migrated in their own namespace);
// accounts/accountstest holds the contract both pass. Clocks and
// randomness are handed in (Config.Clock, Config.Rand), so time-dependent
// flows (token expiry, TOTP) are tested with fixed clocks.
//
// # Tokens
//
// Access tokens are HS256 JWTs valid 15 minutes, checked against their
// session on every use, so signing out or a detected refresh-token reuse
// ends them at once. They are signed with Config.Secret (CASUAL_SECRET, at
// least 32 bytes) or, without one, a random key the store creates on first
// use and every node sharing the store reads. Share links and embed tokens
// are JWTs of another kind, scoped to one app and mode, with an expiry,
// and checked against their stored share so they can be revoked.
//
// # Running without sign-in
//
// With Config.AuthOff (CASUAL_AUTH=off) every request, token or not, acts
// as the built-in local user, who may do everything, and every sync peer
// may read and write every document (including ones that are not apps, as
// automerge-repo clients create them). Sign-up and sign-in are refused.
// It is meant for a single person running the server on their machine:
// CheckAuthOff refuses it unless the server listens on a loopback address.
package accounts
