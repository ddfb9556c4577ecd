-- A series split by "this and following" is continued by the new part
-- (series.continued_by). Changing that part again looks back along the parts it
-- continues for occurrences changed on their own, which stay in the part they
-- were changed in and keep their day (found by testing from outside: a second
-- split booked such a day twice). Few series are ever split: a partial index.
CREATE INDEX series_continued_by ON series (continued_by) WHERE continued_by IS NOT NULL;
