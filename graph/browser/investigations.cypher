// riskgraph investigation queries for Neo4j Browser (docs/browser.md explains each picture).
//
// One investigation per block. A block is:
//   // == <name>: <title>
//   // <what it shows and how to read it>
//   // Returns: <column> <kind>, ...        (kind: a node label, a relationship type,
//   //                                        path, string, integer, float, number,
//   //                                        boolean, datetime or list; A|B = either;
//   //                                        ? = may be null)
//   :param <name> => <Cypher expression>;    (zero or more: an example from the last run)
//   <one Cypher query>;
//
// In Browser, run the block's :param lines first (they stay set for the session), then
// the query on its own: a paste of the whole block runs too, but Browser then lists the
// statements instead of drawing the result. To look at your own case, change the value
// of the :param line, for example  :param user_id => 'U8448627924';
// Dates are relative to the run that scored each user (u.scored_at, u.features_as_of),
// never to the clock, so a picture of last night's run stays the same tomorrow.

// == declined-tonight: Tonight's declined applicants, lowest score first
// Where an investigation starts: the users the last run declined, with the reasons
// an applicant is told and how many risky links explain the decision. Copy a user_id
// into the other queries.
// Returns: user_id string, credit_score integer, risk_score float, ring_id string?, risky_links integer, reason_1 string?, reason_2 string?, reason_3 string?
MATCH (n:User)
WITH max(n.scored_at) AS last_run
MATCH (u:User {decision: 'decline'})
WHERE u.scored_at = last_run
RETURN u.user_id AS user_id, u.credit_score AS credit_score,
       round(u.risk_score, 3) AS risk_score, u.ring_id AS ring_id,
       COUNT { (u)-[:RISK_LINK]->() } AS risky_links,
       u.reason_1 AS reason_1, u.reason_2 AS reason_2, u.reason_3 AS reason_3
ORDER BY credit_score, user_id
LIMIT 50;

// == ring-around-user: The ring around a user
// The Ring node of the user's shared-identifier ring, every member (coloured by the
// decision of the last run) and the devices and accounts the members share, directly
// or through the device an application was filed from. A flagged ring is a burst of
// identities sharing a handful of phones and cards; a household is two to four people
// around one tablet or card.
// Returns: ring Ring, membership MEMBER_OF, member User, shared path?
:param user_id => head(COLLECT { MATCH (u:User)-[:MEMBER_OF]->(r:Ring {flagged: true}) RETURN u.user_id ORDER BY r.size DESC, r.ring_id, u.credit_score, u.user_id LIMIT 1 });
MATCH (:User {user_id: $user_id})-[:MEMBER_OF]->(ring:Ring)
MATCH (ring)<-[membership:MEMBER_OF]-(member:User)
OPTIONAL MATCH shared = (member)-[:USES|OWNS|SUBMITTED|FROM_DEVICE*1..2]->(identifier:Device|Account)
WHERE EXISTS {
  (identifier)<-[:USES|OWNS|SUBMITTED|FROM_DEVICE*1..2]-(other:User)-[:MEMBER_OF]->(ring)
  WHERE other <> member
}
RETURN ring, membership, member, shared;

// == flagged-rings: Flagged rings, largest first
// Rings the last run flagged (members registered, or started borrowing, within a few
// days of each other), with their known bad rate and how many members were declined.
// Returns: ring_id string, size integer, known integer, known_bad integer, bad_rate float?, declined integer, platforms integer, applications integer, shared_identifiers integer, registration_span_days float
MATCH (r:Ring {flagged: true})
RETURN r.ring_id AS ring_id, r.size AS size, r.known_count AS known,
       r.bad_count AS known_bad, round(r.bad_rate, 2) AS bad_rate,
       COUNT { (r)<-[:MEMBER_OF]-(:User {decision: 'decline'}) } AS declined,
       r.platforms AS platforms, r.applications AS applications,
       r.shared_identifiers AS shared_identifiers,
       round(r.registration_span_days, 1) AS registration_span_days
ORDER BY size DESC, ring_id
LIMIT 25;

// == largest-rings: The largest rings and their members
// The ten largest rings side by side: flagged rings are dark red, households grey,
// and the Ring node grows with the ring (RingMedium from 5 members, RingLarge from 10).
// Returns: ring Ring, membership MEMBER_OF, member User
MATCH (ring:Ring)
WITH ring ORDER BY ring.size DESC, ring.ring_id LIMIT 10
MATCH (ring)<-[membership:MEMBER_OF]-(member:User)
RETURN ring, membership, member;

// == intermediary-devices: Devices that filed applications for many users
// Loan intermediaries file their customers' applications from their own phones, so
// one device appears behind the applications of many users who never used it
// themselves (own_users counts the applicants who did). A public or shared family
// device files for its own users; the list puts the devices filing for others first.
// Returns: device_id string, applicants integer, own_users integer, applications integer, declined integer, first_application datetime, last_application datetime
:param min_applicants => 3;
MATCH (d:Device)<-[:FROM_DEVICE]-(a:Application)<-[:SUBMITTED]-(u:User)
WITH d, count(DISTINCT u) AS applicants, count(a) AS applications,
     min(a.applied_at) AS first_application, max(a.applied_at) AS last_application,
     collect(DISTINCT u) AS users
WHERE applicants >= $min_applicants
WITH d, applicants, applications, first_application, last_application, users,
     size([u IN users WHERE EXISTS { (u)-[:USES]->(d) }]) AS own_users
RETURN d.device_id AS device_id, applicants, own_users, applications,
       size([u IN users WHERE u.decision = 'decline']) AS declined,
       first_application, last_application
ORDER BY applicants - own_users DESC, applicants DESC, device_id
LIMIT 25;

// == device-applicants: One device and everyone it filed for
// The device in the middle, the applications filed from it around it, and their
// applicants (coloured by risk). A USES relationship marks an applicant who also uses
// the device; an intermediary's device has few or none.
// Returns: device Device, filed FROM_DEVICE, application Application, submitted SUBMITTED, applicant User, uses USES?
:param device_id => head(COLLECT { MATCH (d:Device)<-[:FROM_DEVICE]-(:Application)<-[:SUBMITTED]-(u:User) WHERE NOT EXISTS { (u)-[:USES]->(d) } WITH d, count(DISTINCT u) AS others RETURN d.device_id ORDER BY others DESC, d.device_id LIMIT 1 });
MATCH (device:Device {device_id: $device_id})<-[filed:FROM_DEVICE]-(application:Application)
      <-[submitted:SUBMITTED]-(applicant:User)
OPTIONAL MATCH (applicant)-[uses:USES]->(device)
RETURN device, filed, application, submitted, applicant, uses;

// == multi-borrowers-last-week: Multi-borrowers of the last week
// Users who applied at several platforms in the seven days before the run that scored
// them (multi-borrowing, 多头借贷): stressed borrowers take loans wherever they can.
// flagged is the pipeline's multi_borrowing flag (3 platforms a week, 5 a month, or 4
// applications in a day).
// Returns: user_id string, platforms integer, applications integer, amount number, first_application datetime, last_application datetime, flagged boolean?, credit_score integer?, decision string?
:param min_platforms => 3;
MATCH (u:User)-[:SUBMITTED]->(a:Application)-[:TO]->(p:Platform)
WHERE u.features_as_of - duration({days: 7}) <= a.applied_at < u.features_as_of
WITH u, count(DISTINCT p) AS platforms, count(a) AS applications,
     sum(a.amount) AS amount, min(a.applied_at) AS first_application,
     max(a.applied_at) AS last_application
WHERE platforms >= $min_platforms
RETURN u.user_id AS user_id, platforms, applications, amount,
       first_application, last_application, u.multi_borrowing AS flagged,
       u.credit_score AS credit_score, u.decision AS decision
ORDER BY platforms DESC, applications DESC, user_id
LIMIT 50;

// == borrower-week: A user's applications in the last week
// The user, the applications filed in the seven days before the run that scored the
// user, the platforms they went to and the devices they were filed from. Many
// platforms around one user in one week is multi-borrowing; the same device behind
// them when it is not the user's own points to an intermediary.
// Returns: user User, submitted SUBMITTED, application Application, to TO, platform Platform, filed FROM_DEVICE?, device Device?
:param user_id => head(COLLECT { MATCH (u:User) WHERE u.platforms_7d > 0 RETURN u.user_id ORDER BY u.platforms_7d DESC, u.applications_7d DESC, u.user_id LIMIT 1 });
MATCH (user:User {user_id: $user_id})-[submitted:SUBMITTED]->(application:Application)
      -[to:TO]->(platform:Platform)
WHERE user.features_as_of - duration({days: 7}) <= application.applied_at < user.features_as_of
OPTIONAL MATCH (application)-[filed:FROM_DEVICE]->(device:Device)
RETURN user, submitted, application, to, platform, filed, device;

// == risky-links: A declined applicant's risky links
// The applicant, a red RISK_LINK to each user whose data raised the score (its caption
// names the kind of link), and what carries each link: the shared device or account
// (used directly, or the device an application was filed from) or the social tie.
// Click a RISK_LINK to read its score (the log-odds it adds to the applicant's risk).
// The example: the declined applicant not known bad with the most kinds of link.
// Returns: applicant User, link RISK_LINK, other User, via path?, tie KNOWS?
:param user_id => head(COLLECT { MATCH (u:User {decision: 'decline'})-[l:RISK_LINK]->() WHERE NOT u:KnownBad WITH u, count(DISTINCT l.via_type) AS kinds, sum(l.score) AS weight RETURN u.user_id ORDER BY kinds DESC, weight DESC, u.user_id LIMIT 1 });
MATCH (applicant:User {user_id: $user_id})-[link:RISK_LINK]->(other:User)
OPTIONAL MATCH via = (applicant)-[:USES|OWNS|SUBMITTED|FROM_DEVICE*1..2]->(identifier)
                     <-[:USES|OWNS|SUBMITTED|FROM_DEVICE*1..2]-(other)
WHERE link.via_type <> 'social'
  AND (identifier.device_id = link.via_id OR identifier.account_id = link.via_id)
OPTIONAL MATCH (applicant)-[tie:KNOWS]-(other)
WHERE link.via_type = 'social' AND tie.tie_type = link.via_id
RETURN applicant, link, other, via, tie;

// == shares-card-with-bad: Users sharing a bank card with a known-bad user
// Users (not themselves known bad) linked to the same bank card as a user known, at
// the last run's cut-off, to have defaulted or committed fraud (the KnownBad label).
// Change account_type to 'phone' or 'wallet' for the other linked accounts. Card
// numbers are pseudonyms (keyed hashes).
// Returns: user_id string, decision string?, credit_score integer?, account_id string, known_bad_users list
:param account_type => 'bank_card';
MATCH (bad:KnownBad)-[:OWNS]->(card:Account {account_type: $account_type})<-[:OWNS]-(u:User)
WHERE NOT u:KnownBad
WITH u, card, collect(DISTINCT bad.user_id) AS known_bad_users
RETURN u.user_id AS user_id, u.decision AS decision, u.credit_score AS credit_score,
       card.account_id AS account_id, known_bad_users
ORDER BY size(known_bad_users) DESC, credit_score, user_id
LIMIT 50;

// == neighbourhood: Everything around one user
// The user's devices, accounts, contacts, ring and risky links; the applications with
// their platforms and devices; and the other users of each device and account (those
// of public devices used by more than max_sharing users left out, as the ring features
// do).
// Returns: user User, path path
:param user_id => head(COLLECT { MATCH (u:User {decision: 'decline'})-[:MEMBER_OF]->(:Ring) RETURN u.user_id ORDER BY u.credit_score, u.user_id LIMIT 1 });
:param max_sharing => 20;
MATCH (user:User {user_id: $user_id})
CALL (user) {
  MATCH path = (user)-[:USES|OWNS|KNOWS|MEMBER_OF|RISK_LINK]-()
  RETURN path
  UNION
  MATCH path = (user)-[:SUBMITTED]->(:Application)-[:TO|FROM_DEVICE]->()
  RETURN path
  UNION
  MATCH path = (user)-[:USES|OWNS]->(identifier)<-[:USES|OWNS]-(:User)
  WHERE COUNT { (identifier)<-[:USES|OWNS]-() } <= $max_sharing
  RETURN path
}
RETURN user, path;
