DROP TABLE user_permissions;
DROP TABLE users;
