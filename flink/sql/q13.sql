-- Bounded side input join: each bid with the side input's value for
-- mod(auction, 10000). The suite joins FOR SYSTEM_TIME AS OF a processing
-- time, a lookup join on Flink's legacy filesystem source, which Flink 2
-- no longer has (its filesystem connector is no lookup source). The side
-- input never changes, so a regular join gives the same rows (on a live
-- stream it keeps the bids in state, which the lookup join does not).
SELECT B.auction, B.bidder, B.price, B.`dateTime`, S.`value`
FROM bid B
JOIN side_input S ON MOD(B.auction, 10000) = S.`key`
