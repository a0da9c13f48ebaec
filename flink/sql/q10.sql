-- Log to file system: every bid with its day and minute, which the
-- suite's filesystem sink partitions by (dt, hm). `memscale flink submit`
-- writes it to the blackhole sink as every query; the conformance script
-- writes it partitioned, as the suite does, and compares the partitions.
SELECT auction, bidder, price, `dateTime`, extra,
       DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') AS dt,
       DATE_FORMAT(`dateTime`, 'HH:mm') AS hm
FROM bid
