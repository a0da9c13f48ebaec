-- Local item suggestion: sellers in OR, ID or CA of auctions in category 10.
-- memscale's generator writes US states in lower case (the nexmark crate's),
-- so the suite's literals are lowered to match.
SELECT P.name, P.city, P.state, A.id
FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'or' OR P.state = 'id' OR P.state = 'ca')
