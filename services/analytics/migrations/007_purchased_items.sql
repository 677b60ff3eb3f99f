-- 007_purchased_items.sql - what each member bought, item by item, from billing's
-- purchase.completed, and how much of each purchase was refunded (refund.created names its
-- invoice): recommendations (recommend.c) read them. Rebuilt from events like the other
-- projections.
create table purchases (
    purchase_id text primary key,
    member_id text not null,
    invoice_id text not null,          -- '' when billing named none
    total bigint not null,             -- yen, including tax
    refunded bigint not null default 0,
    at_ms bigint not null
);
create index purchases_invoice on purchases (invoice_id);

create table purchased_items (
    purchase_id text not null,
    line int not null,                 -- the item's place in the purchase, from 0
    member_id text not null,
    sku text not null,
    description text not null,
    quantity int not null,
    at_ms bigint not null,
    primary key (purchase_id, line)
);
create index purchased_items_member on purchased_items (member_id, sku);
create index purchased_items_sku on purchased_items (sku, member_id);
