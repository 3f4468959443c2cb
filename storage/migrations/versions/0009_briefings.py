"""briefings: message vectors, departments, issues shown, issue routes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('message_vector',
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('ref_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'ref_id', 'model')
    )
    with op.batch_alter_table('message_vector', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_vector_created_at'), ['created_at'], unique=False)

    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('tenant', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('managers', sa.JSON(), nullable=False),
    sa.Column('about', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('about_vector', sa.LargeBinary(), nullable=True),
    sa.Column('about_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('at_time', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('tz', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('briefing_issue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('centroid', sa.LargeBinary(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['previous_id'], ['briefing_issue.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('briefing_issue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_briefing_issue_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_briefing_issue_week_start'), ['week_start'], unique=False)

    op.create_table('issue_route',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('from_department_id', sa.Integer(), nullable=True),
    sa.Column('issue_id', sa.Integer(), nullable=True),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('centroid', sa.LargeBinary(), nullable=False),
    sa.Column('moved_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['from_department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['issue_id'], ['briefing_issue.id'], ),
    sa.ForeignKeyConstraint(['moved_by_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('issue_route', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issue_route_department_id'), ['department_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('issue_route', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issue_route_department_id'))

    op.drop_table('issue_route')
    with op.batch_alter_table('briefing_issue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefing_issue_week_start'))
        batch_op.drop_index(batch_op.f('ix_briefing_issue_department_id'))

    op.drop_table('briefing_issue')
    op.drop_table('department')
    with op.batch_alter_table('message_vector', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_vector_created_at'))

    op.drop_table('message_vector')
