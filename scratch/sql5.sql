SELECT json_build_object('id', t.id, 'name', t.name, 'storage_location_code', t.storage_location_code, 'subscription_status', t.subscription_status, 'subscription_ended_at', t.subscription_ended_at, 'data_purge_due_at', t.data_purge_due_at, 'deletion_grace_days', t.deletion_grace_days, 'audit_log_retention_days', t.audit_log_retention_days, 'created_at', t.created_at, 'updated_at', t.updated_at, 'version', t.version) AS tenant,
 (SELECT json_build_object('code', l.code, 'name', l.name, 'data_center_countries', l.data_center_countries, 'created_at', l.created_at) FROM storage_location l WHERE l.code = t.storage_location_code) AS location,
 CASE WHEN t.position <= 20 THEN json_build_object('count', (SELECT count(*)::int FROM personal_data_record r WHERE r.tenant_id = t.id), 'page',
   (SELECT coalesce(json_agg(json_build_array(json_build_object('id', p.id, 'tenant_id', p.tenant_id, 'data_subject_id', p.data_subject_id, 'category', p.category, 'status', p.status, 'created_at', p.created_at),
        json_build_object('id', s.id, 'tenant_id', s.tenant_id, 'status', s.status)) ORDER BY p.created_at, p.id), '[]')
      FROM (SELECT r.id, r.tenant_id, r.data_subject_id, r.category, r.status, r.created_at FROM personal_data_record r WHERE r.tenant_id = t.id ORDER BY r.created_at, r.id LIMIT 21) p
      JOIN data_subject s ON s.tenant_id = p.tenant_id AND s.id = p.data_subject_id)) END AS join_0
FROM (SELECT *, row_number() OVER (ORDER BY created_at, id) AS position FROM tenant WHERE true AND true ORDER BY created_at, id LIMIT 21) t ORDER BY t.created_at, t.id
