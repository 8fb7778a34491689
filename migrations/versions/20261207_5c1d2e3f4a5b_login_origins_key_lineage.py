"""login origins, and the key that created a key

Revision ID: 5c1d2e3f4a5b
Revises: 4aaa6e1f5e7b
Create Date: 2026-12-07 15:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import models.base


revision = '5c1d2e3f4a5b'
down_revision = '4aaa6e1f5e7b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_origins',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('last_login_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_origins_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'address_hash', name=op.f('pk_login_origins'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by_key_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_api_keys_created_by_key_id', ['created_by_key_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_api_keys_created_by_key_id_api_keys'), 'api_keys', ['created_by_key_id'], ['id'],
            ondelete='CASCADE',
        )


def downgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_keys_created_by_key_id_api_keys'), type_='foreignkey')
        batch_op.drop_index('ix_api_keys_created_by_key_id')
        batch_op.drop_column('created_by_key_id')
    op.drop_table('login_origins')
