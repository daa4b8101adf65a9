-- Linli on docker compose: one database and one login role per service; each service owns its data and
-- no service can connect to another's database.
-- DEV-ONLY passwords (each equals the role name). Never reuse them outside a developer's machine.

CREATE ROLE registry LOGIN PASSWORD 'registry';
CREATE DATABASE registry OWNER registry ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE registry FROM PUBLIC;

CREATE ROLE booking LOGIN PASSWORD 'booking';
CREATE DATABASE booking OWNER booking ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE booking FROM PUBLIC;

CREATE ROLE procurement LOGIN PASSWORD 'procurement';
CREATE DATABASE procurement OWNER procurement ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE procurement FROM PUBLIC;

CREATE ROLE feedback LOGIN PASSWORD 'feedback';
CREATE DATABASE feedback OWNER feedback ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE feedback FROM PUBLIC;

CREATE ROLE gateway LOGIN PASSWORD 'gateway';
CREATE DATABASE gateway OWNER gateway ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE gateway FROM PUBLIC;
